"""claims of model calls in flight, so a second asker waits instead of paying again

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_call_claims",
        sa.Column("request_hash", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("claimed_at", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("request_hash"),
    )


def downgrade() -> None:
    op.drop_table("model_call_claims")
