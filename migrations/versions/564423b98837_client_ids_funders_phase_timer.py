"""client ids, funders, phase timer

Revision ID: 564423b98837
Revises: 8d4ab19131db
Create Date: 2026-11-23 20:42:34.150522

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '564423b98837'
down_revision = '8d4ab19131db'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_comment_client', ['participant_id', 'client_id'])

    with op.batch_alter_table('domain', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_domain_client', ['participant_id', 'client_id'])

    with op.batch_alter_table('priority', schema=None) as batch_op:
        batch_op.add_column(sa.Column('funders', sa.JSON(), nullable=False, server_default='[]'))

    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phase_ends_at', sa.DateTime(), nullable=True))



def downgrade():
    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.drop_column('phase_ends_at')

    with op.batch_alter_table('priority', schema=None) as batch_op:
        batch_op.drop_column('funders')

    with op.batch_alter_table('domain', schema=None) as batch_op:
        batch_op.drop_constraint('uq_domain_client', type_='unique')
        batch_op.drop_column('client_id')

    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_constraint('uq_comment_client', type_='unique')
        batch_op.drop_column('client_id')

