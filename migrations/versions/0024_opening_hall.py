"""opening hall: a change counter per tender for the hall's watchers, openings the platform starts by
itself at the deadline (R-T5), the record as a signed PDF, bidders' sign-in and confirmation (R-B7)

Revision ID: 0024_opening_hall
Revises: 0023_tenderer_browser
Create Date: 2026-12-03 13:30:00.000000
"""

from alembic import op
import sqlalchemy as sa

from core.db import UtcDateTime

revision = "0024_opening_hall"
down_revision = "0023_tenderer_browser"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hall_revision", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("openings", schema=None) as batch_op:
        batch_op.alter_column("started_by_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(sa.Column("record_pdf_sha256", sa.String(length=64), nullable=True))
    op.create_table(
        "hall_attendance",
        sa.Column("tender_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("signed_in_by_id", sa.Uuid(), nullable=True),
        sa.Column("signed_in_at", UtcDateTime(), nullable=True),
        sa.Column("verdict", sa.String(length=12), nullable=True),
        sa.Column("verdict_by_id", sa.Uuid(), nullable=True),
        sa.Column("verdict_at", UtcDateTime(), nullable=True),
        sa.Column("remark", sa.Text(), nullable=False),
        sa.CheckConstraint("verdict IN ('confirmed', 'objected')", name=op.f("ck_hall_attendance_verdict")),
        sa.CheckConstraint(
            "(verdict IS NULL) = (verdict_at IS NULL)", name=op.f("ck_hall_attendance_verdict_complete")
        ),
        sa.ForeignKeyConstraint(
            ["tender_id"], ["tenders.id"], name=op.f("fk_hall_attendance_tender_id_tenders")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_hall_attendance_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["signed_in_by_id"], ["users.id"], name=op.f("fk_hall_attendance_signed_in_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["verdict_by_id"], ["users.id"], name=op.f("fk_hall_attendance_verdict_by_id_users")
        ),
        sa.PrimaryKeyConstraint("tender_id", "organization_id", name=op.f("pk_hall_attendance")),
    )


def downgrade() -> None:
    op.drop_table("hall_attendance")
    with op.batch_alter_table("openings", schema=None) as batch_op:
        batch_op.drop_column("record_pdf_sha256")
        batch_op.alter_column("started_by_id", existing_type=sa.Uuid(), nullable=False)
    with op.batch_alter_table("tenders", schema=None) as batch_op:
        batch_op.drop_column("hall_revision")
