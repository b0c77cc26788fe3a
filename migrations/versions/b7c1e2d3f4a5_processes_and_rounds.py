"""processes and rounds (continuous EDP)

Revision ID: b7c1e2d3f4a5
Revises: 564423b98837
Create Date: 2026-11-24 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c1e2d3f4a5'
down_revision = '564423b98837'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('process',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('region', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('facilitator_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['facilitator_id'], ['facilitator.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('process', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_facilitator_id'), ['facilitator_id'],
                              unique=False)

    # Named foreign keys: SQLite's batch mode (a table copy) needs names to drop them again.
    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.add_column(sa.Column('process_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('round_no', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('previous_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_workshop_process_id'), ['process_id'], unique=False)
        batch_op.create_foreign_key('fk_workshop_process_id', 'process', ['process_id'], ['id'])
        batch_op.create_foreign_key('fk_workshop_previous_id', 'workshop', ['previous_id'],
                                    ['id'])

    with op.batch_alter_table('domain', schema=None) as batch_op:
        batch_op.add_column(sa.Column('carried_from_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_domain_carried_from_id'), ['carried_from_id'],
                              unique=False)
        batch_op.create_foreign_key('fk_domain_carried_from_id', 'domain', ['carried_from_id'],
                                    ['id'])


def downgrade():
    with op.batch_alter_table('domain', schema=None) as batch_op:
        batch_op.drop_constraint('fk_domain_carried_from_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_domain_carried_from_id'))
        batch_op.drop_column('carried_from_id')

    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.drop_constraint('fk_workshop_previous_id', type_='foreignkey')
        batch_op.drop_constraint('fk_workshop_process_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_workshop_process_id'))
        batch_op.drop_column('previous_id')
        batch_op.drop_column('round_no')
        batch_op.drop_column('process_id')

    with op.batch_alter_table('process', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_facilitator_id'))

    op.drop_table('process')
