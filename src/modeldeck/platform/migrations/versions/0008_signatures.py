"""signatures: what registration learned by loading a version's checkpoint

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

EXTERNAL = "The version points at an external uri; the local platform runs uploaded checkpoints only."


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("signature", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("runnable", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("not_runnable_reason", sa.Text(), nullable=True))
    # Versions registered before this revision were never checked; an external one cannot run here.
    versions = sa.table(
        "model_versions", sa.column("artifact_digest"), sa.column("runnable"), sa.column("not_runnable_reason")
    )
    op.execute(
        versions.update()
        .where(versions.c.artifact_digest.is_(None))
        .values(runnable=False, not_runnable_reason=EXTERNAL)
    )


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("not_runnable_reason")
        batch.drop_column("runnable")
        batch.drop_column("signature")
