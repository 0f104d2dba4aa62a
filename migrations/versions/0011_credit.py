"""credit: conduct records and debarments

Revision ID: 0011_credit
Revises: 0010_experts
Create Date: 2026-11-22 12:50:00
"""

from alembic import op
import sqlalchemy as sa
import core.db


revision = "0011_credit"
down_revision = '0010_experts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conduct_records",
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("subject_name", sa.String(length=200), nullable=False),
        sa.Column("subject_identifier", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("penalty", sa.Text(), nullable=False),
        sa.Column("tender_code", sa.String(length=64), nullable=True),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column("evidence_name", sa.String(length=200), nullable=True),
        sa.Column("evidence_size", sa.Integer(), nullable=True),
        sa.Column("debarred_from", sa.Date(), nullable=True),
        sa.Column("debarred_to", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_by_id", sa.Uuid(), nullable=True),
        sa.Column("published_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "subject_kind IN ('tenderer', 'agency', 'expert')", name=op.f("ck_conduct_records_subject_kind")
        ),
        sa.CheckConstraint(
            "category IN ('collusion', 'bribery', 'fraud', 'expert_misconduct', 'agency_misconduct', 'other')",
            name=op.f("ck_conduct_records_category"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'revoked')", name=op.f("ck_conduct_records_status")
        ),
        sa.CheckConstraint(
            "(debarred_from IS NULL AND debarred_to IS NULL) OR (debarred_from IS NOT NULL AND debarred_to IS NOT NULL AND debarred_to >= debarred_from)",
            name=op.f("ck_conduct_records_debarment_period"),
        ),
        sa.CheckConstraint(
            "status = 'draft' OR published_at IS NOT NULL OR revoked_at IS NOT NULL",
            name=op.f("ck_conduct_records_dated"),
        ),
        sa.CheckConstraint(
            "status <> 'revoked' OR (revoked_at IS NOT NULL AND revocation_reason IS NOT NULL)",
            name=op.f("ck_conduct_records_revocation_reasoned"),
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"], ["users.id"], name=op.f("fk_conduct_records_published_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_conduct_records_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["users.id"], name=op.f("fk_conduct_records_revoked_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conduct_records")),
    )
    with op.batch_alter_table("conduct_records", schema=None) as batch_op:
        batch_op.create_index("ix_conduct_records_subject", ["subject_kind", "subject_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conduct_records", schema=None) as batch_op:
        batch_op.drop_index("ix_conduct_records_subject")

    op.drop_table("conduct_records")
