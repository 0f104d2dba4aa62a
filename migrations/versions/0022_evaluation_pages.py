"""evaluation pages: the report's draft and signed PDFs, the award and result notices as signed PDFs
(R-R2), and when each committee member was seated (a replacement after R-E5)

Revision ID: 0022_evaluation_pages
Revises: 0021_witness
Create Date: 2026-12-03 11:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0022_evaluation_pages"
down_revision = "0021_witness"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluation_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft_pdf_sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("award_notice_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("result_notice_sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("room_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("room_members", schema=None) as batch_op:
        batch_op.drop_column("seated_at")
    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.drop_column("result_notice_sha256")
        batch_op.drop_column("award_notice_sha256")
    with op.batch_alter_table("evaluation_reports", schema=None) as batch_op:
        batch_op.drop_column("draft_pdf_sha256")
