"""``flask --app wsgi audit verify|export|checkpoint``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from audit import dbverify, log
from audit.verify import CHECKPOINTS, DISCLOSED, ENTRIES, NOTE_TERMINATOR, PUBLIC_KEY
from core.db import db

audit_cli = AppGroup("audit", help="The tamper-evident audit log.")


@audit_cli.command("verify")
@click.option(
    "--against",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="a checkpoint you trust (a signed note saved earlier, e.g. from a receipt): proves no rollback",
)
def verify(against: Path | None) -> None:
    """Recompute the tree from the stored rows and check every signed checkpoint, the stored tree nodes
    and the columns searches filter on (exit 1 on a problem)."""
    trusted = against.read_bytes() if against is not None else None
    report = dbverify.verify_database(db.session, workers=dbverify.default_workers(), against=trusted)
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)


@audit_cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Write entries.jsonl, disclosed.jsonl, checkpoints.txt and log.pub for `python -m audit.verify DIR`.

    Sealed entries whose time has not come stay commitments: the export can be handed to anyone."""
    session = db.session
    log.keep_checkpoint(session)  # so the export ends on a signed checkpoint covering everything
    session.commit()
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    with (directory / ENTRIES).open("wb") as out:
        for leaf in dbverify.leaves(session):
            out.write(leaf + b"\n")
            count += 1
    disclosed = 0
    with (directory / DISCLOSED).open("wb") as out:
        for content in dbverify.disclosed_contents(session):
            out.write(content + b"\n")
            disclosed += 1
    notes = dbverify.stored_notes(session)
    with (directory / CHECKPOINTS).open("wb") as out:
        for note_text in notes:
            out.write(note_text.encode() + NOTE_TERMINATOR)
    (directory / PUBLIC_KEY).write_text(log.verifier().key_string() + "\n")
    click.echo(f"exported {count} entries ({disclosed} sealed ones disclosed) and {len(notes)} checkpoints")


@audit_cli.command("checkpoint")
def checkpoint() -> None:
    """Keep the head's checkpoint in the history table and print it."""
    kept = log.keep_checkpoint(db.session)
    db.session.commit()
    click.echo(kept.note if kept else "the log is empty")


@audit_cli.command("key")
def key() -> None:
    """Print the log's verifier key (publish it where supervisors can fetch it independently)."""
    click.echo(log.verifier().key_string())


archive_cli = AppGroup("archive", help="Self-verifying tender archives (R-R2).")


@archive_cli.command("export")
@click.argument("tender")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def export_archive(tender: str, file: Path | None) -> None:
    """Write TENDER's archive (its code, e.g. ZB-2026-000123) to FILE (default: CODE.sunbid-archive);
    check it anywhere with `python -m audit.verify_archive FILE --log-key ... --witness-key ...`."""
    from audit import archive, describe

    tender_id = describe.find_tender(db.session, tender)
    if tender_id is None:
        raise click.ClickException(f"no tender with the code {tender}")
    target = file or Path(f"{tender.strip()}.sunbid-archive")
    try:
        summary = archive.export(db.session, tender_id, tender.strip(), target)
    except (archive.ArchiveError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{target}: {summary['members']} files, {summary['entries']} audit entries, "
        f"{summary['bytes']} bytes, sealed in the checkpoint of {summary['checkpoint']} entries"
    )
    click.echo(f"log key:     {summary['log_key']}")
    for key in summary["witness_keys"]:
        click.echo(f"witness key: {key}")
