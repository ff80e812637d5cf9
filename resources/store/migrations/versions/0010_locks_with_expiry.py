"""named locks in a table of their own, with an owner and an expiry

Revision ID: 0010
Revises: 0009
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# A lock held while upgrading (an old process may still run) keeps an hour before it expires.
_CARRIED_OVER_S = 3600.0


def upgrade() -> None:
    locks = op.create_table(
        "locks",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("acquired_at", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    bind = op.get_bind()
    held = bind.execute(
        sa.text("SELECT key, value, at FROM controls WHERE key LIKE 'lock:%'")
    ).all()
    if held:
        expires = time.time() + _CARRIED_OVER_S
        op.bulk_insert(
            locks,
            [
                {"name": key[5:], "owner": value, "expires_at": expires, "acquired_at": at}
                for key, value, at in held
            ],
        )
        op.execute("DELETE FROM controls WHERE key LIKE 'lock:%'")


def downgrade() -> None:
    op.drop_table("locks")
