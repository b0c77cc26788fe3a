"""evidence: the workshop's diagnosis data and the sectors each domain is linked to

Revision ID: e5a7c3d19f42
Revises: 0904dacc9c20
Create Date: 2026-12-03 12:35:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5a7c3d19f42'
down_revision = '0904dacc9c20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('diagnosis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshop.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workshop_id')
    )
    with op.batch_alter_table('domain', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sectors', sa.JSON(), server_default='[]', nullable=False))


def downgrade():
    with op.batch_alter_table('domain', schema=None) as batch_op:
        batch_op.drop_column('sectors')
    op.drop_table('diagnosis')
