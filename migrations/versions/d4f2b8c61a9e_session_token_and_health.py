"""facilitator session tokens (revocable sessions) and the health row /healthz writes

Revision ID: d4f2b8c61a9e
Revises: d4e8f2a61b9c
Create Date: 2026-12-09 10:00:00.000000

"""
import secrets
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4f2b8c61a9e'
down_revision = 'd4e8f2a61b9c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('facilitator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    # Each facilitator gets a random token of their own; sessions from before the upgrade
    # (whose user id carries no token) end, which is the point.
    facilitator = sa.table('facilitator', sa.column('id', sa.Integer),
                           sa.column('session_token', sa.String))
    conn = op.get_bind()
    for (fid,) in conn.execute(sa.select(facilitator.c.id)).all():
        conn.execute(facilitator.update().where(facilitator.c.id == fid)
                     .values(session_token=secrets.token_urlsafe(24)))
    health = op.create_table(
        'health',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('checked_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.bulk_insert(health, [{'id': 1, 'checked_at':
                             datetime.now(timezone.utc).replace(tzinfo=None)}])


def downgrade():
    op.drop_table('health')
    with op.batch_alter_table('facilitator', schema=None) as batch_op:
        batch_op.drop_column('session_token')
