"""tenderer in the browser: resumable (chunked) uploads of sealed bid parts

Revision ID: 0023_tenderer_browser
Revises: 0022_evaluation_pages
Create Date: 2026-12-03 13:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0023_tenderer_browser"
down_revision = "0022_evaluation_pages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bid_uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("bid_id", sa.Uuid(), nullable=False),
        sa.Column("part", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "part IN ('qualification', 'technical', 'commercial')", name=op.f("ck_bid_uploads_part")
        ),
        sa.ForeignKeyConstraint(
            ["bid_id"], ["bids.id"], name=op.f("fk_bid_uploads_bid_id_bids"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bid_uploads")),
        sa.UniqueConstraint("bid_id", "part", name=op.f("uq_bid_uploads_bid_id_part")),
    )


def downgrade() -> None:
    op.drop_table("bid_uploads")
