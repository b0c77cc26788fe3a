"""the facilitator's switch that closes joining

Revision ID: d4e8f2a61b9c
Revises: c3d9a1e7b2f0
Create Date: 2026-12-10 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e8f2a61b9c'
down_revision = 'c3d9a1e7b2f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.add_column(sa.Column('joining', sa.String(length=6), nullable=False,
                                      server_default='open'))


def downgrade():
    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.drop_column('joining')
