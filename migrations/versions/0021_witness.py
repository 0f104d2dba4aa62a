"""witness: cosigned checkpoints (append-only), and the root CA's own CRL

Revision ID: 0021_witness
Revises: 0017_bank_deposits
Create Date: 2026-12-03 12:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

from core.db import UtcDateTime


revision = "0021_witness"
down_revision = "0017_bank_deposits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_cosigned",
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_audit_cosigned")),
    )
    # R-R1: what the witness vouched for is kept like the log itself (0001_foundation's function).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_cosigned_append_only BEFORE UPDATE OR DELETE ON audit_cosigned "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_cosigned_no_{verb.lower()} BEFORE {verb} ON audit_cosigned "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )
    with op.batch_alter_table("certificate_authorities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("root_crl_number", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("root_crl_pem", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("root_crl_next_update", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificate_authorities", schema=None) as batch_op:
        batch_op.drop_column("root_crl_next_update")
        batch_op.drop_column("root_crl_pem")
        batch_op.drop_column("root_crl_number")
    op.drop_table("audit_cosigned")
