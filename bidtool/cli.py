"""The ``bidtool`` command: keys, sealing, verification and opening of bid parts, offline.

Everything here is presentation: argument parsing, passphrases, progress bars, messages in Chinese
or English, and exit codes. The format itself is crypto.bidpack (docs/bid-format.md). Commands that
talk to the platform API (submit, online decryption, custodian share release) come with the
tendering issue, once their server side exists.

Exit codes are a contract with scripts, listed in ``bidtool --help`` and docs/bid-format.md:
0 ok, 1 verification failed or refused, 2 usage, 3 wrong passphrase, 4 I/O error, 5 the bid is not
encrypted to the given identity, 130 interrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import bidtool
from bidtool import messages
from bidtool.keys import encrypt_private_key_pem
from bidtool.messages import t
from crypto import age, bidpack, ca, cms, logproof, receipts, selection
from crypto.fingerprint import fingerprint_sha256, identifiers

if TYPE_CHECKING:
    from bidtool import client

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_PASSPHRASE = 3
EXIT_IO = 4
EXIT_NOT_FOR_YOU = 5
EXIT_INTERRUPTED = 130

IDENTITY_FILE = "identity.txt"
RECIPIENT_FILE = "recipient.txt"
SIGNING_KEY_FILE = "signing-key.pem"
CSR_FILE = "signing.csr"

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)


class PassphraseError(Exception):
    code = "wrong_passphrase"


class Refused(Exception):
    """A refusal decided here rather than in crypto/ (e.g. a sealed file missing from a receipt)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------- localised click


class _Option(click.Option):
    """An option whose help is a message key, rendered in the language of the run."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        key = self.help
        if key in messages.MESSAGES:
            self.help = t(key)
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = key


class _Command(click.Command):
    def get_short_help_str(self, limit: int = 45) -> str:
        key = f"short.{self.name.replace('-', '_')}" if self.name else ""
        if key in messages.MESSAGES:
            return t(key)
        return _localised(self, lambda: super(_Command, self).get_short_help_str(limit))

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return _localised_help_option(super().get_help_option(ctx))

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _localised(self, lambda: super(_Command, self).format_help_text(ctx, formatter))


class _Group(click.Group):
    command_class = _Command

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _localised(self, lambda: super(_Group, self).format_help_text(ctx, formatter))

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        # --help is eager and may come before --lang, or --lang may be absent: pick the language
        # before click parses anything, so that every run starts from its own choice.
        argv = list(sys.argv[1:] if args is None else args)
        messages.set_language(messages.choose(_scan_lang(argv)))
        return super().main(argv, *rest, **kwargs)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return _localised_help_option(super().get_help_option(ctx))

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_paragraph()
        formatter.write_text(t("help.exit_codes"))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo(t("error.interrupted"), err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            handled = _classify(exc)
            if handled is None:
                raise
            code, status = handled
            _report(code, exc)
            ctx.exit(status)


def _scan_lang(argv: list[str]) -> str | None:
    for n, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and n + 1 < len(argv):
            return argv[n + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
    return None


def _localised_help_option(option: click.Option | None) -> click.Option | None:
    if option is not None:
        option.help = t("help.help")
    return option


def _localised(command: click.Command, render: Any) -> Any:
    key = command.help
    if key in messages.MESSAGES:
        command.help = t(key)
    try:
        return render()
    finally:
        command.help = key


def _classify(exc: BaseException) -> tuple[str, int] | None:
    """(error code, exit status) for the failures bidtool expects; None for bugs."""
    if isinstance(exc, PassphraseError):
        return exc.code, EXIT_PASSPHRASE
    if isinstance(exc, age.NoMatchingIdentityError):
        return exc.code, EXIT_NOT_FOR_YOU
    if isinstance(exc, age.BadKeyEncodingError):
        return exc.code, EXIT_USAGE
    if isinstance(
        exc,
        bidpack.BidError | age.AgeError | ca.CertificateError | cms.SignatureError | receipts.ReceiptError,
    ):
        return exc.code, EXIT_REFUSED
    if isinstance(exc, selection.ProofError | logproof.ProofError):
        return exc.code, EXIT_REFUSED
    # The API client (urllib, http.client, email) is imported only by the commands that talk to the
    # platform: the offline ones, sealing and opening above all, start that much sooner.
    api_client = sys.modules.get("bidtool.client")
    if api_client is not None and isinstance(exc, api_client.ApiError):
        return exc.code, EXIT_IO if exc.code == "server_unreachable" else EXIT_REFUSED
    if isinstance(exc, Refused):
        return exc.code, EXIT_REFUSED
    if isinstance(exc, FileExistsError):
        return "output_exists", EXIT_REFUSED
    if isinstance(exc, OSError):
        return "io", EXIT_IO
    return None


def _report(code: str, exc: BaseException) -> None:
    click.echo(f"{t('error.prefix')} [{code}]: {messages.error_text(code)}", err=True)
    detail = str(exc)
    if detail:
        click.echo(f"  {t('error.detail')}: {detail}", err=True)


# ------------------------------------------------------------------------------------------ helpers


def _set_language(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    lang = messages.choose(value)
    messages.set_language(lang)
    return lang


def _show_version(ctx: click.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"bidtool {bidtool.version()}")
        ctx.exit()


def _parse_time(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(t("usage.bad_time", value=value)) from None
    if moment.tzinfo is None:
        raise click.BadParameter(t("usage.bad_time", value=value))
    return moment.astimezone(UTC)


def _check_tender(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not bidpack.TENDER_ID.fullmatch(value):
        raise click.BadParameter(t("usage.bad_tender"))
    return value


def _check_credit_code(ctx: click.Context, param: click.Parameter, value: str) -> str:
    value = value.strip().upper()
    if not ca.is_valid_credit_code(value):
        raise click.BadParameter(t("usage.bad_credit_code", value=value))
    return value


def _parse_recipients(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list:
    found: list[age.Recipient] = []
    for value in values:
        try:
            if value.startswith("age1"):
                found.append(age.Recipient.parse(value.strip()))
            elif os.path.isfile(value):
                with open(value, encoding="utf-8") as f:
                    lines = [line.strip() for line in f]
                keys = [line for line in lines if line and not line.startswith("#")]
                if not keys:
                    raise click.BadParameter(t("usage.bad_recipient", value=value))
                found.extend(age.Recipient.parse(key) for key in keys)
            else:
                raise click.BadParameter(t("usage.bad_recipient", value=value))
        except age.BadKeyEncodingError:
            raise click.BadParameter(t("usage.bad_recipient", value=value)) from None
    return found


def _passphrase(passphrase_file: str | None, *, new: bool = False) -> bytes:
    if passphrase_file is not None:
        with open(passphrase_file, encoding="utf-8") as f:
            value = f.readline().rstrip("\r\n")
    elif "BIDTOOL_PASSPHRASE" in os.environ:
        value = os.environ["BIDTOOL_PASSPHRASE"]
    else:
        value = click.prompt(
            t("prompt.new_passphrase" if new else "prompt.passphrase"),
            hide_input=True,
            confirmation_prompt=t("prompt.repeat") if new else False,
            err=True,
        )
    if not value:
        raise click.UsageError(t("usage.empty_passphrase"))
    return value.encode("utf-8")


def _load_signing_key(path: str, passphrase_file: str | None) -> ec.EllipticCurvePrivateKey:
    with open(path, "rb") as f:
        data = f.read()
    # Ask for a passphrase only when the key has one.
    password = _passphrase(passphrase_file) if b"ENCRYPTED" in data.split(b"\n", 1)[0] else None
    try:
        key = serialization.load_pem_private_key(data, password)
    except ValueError:
        if password is None:
            raise ca.UnsupportedKey(f"{path} is not a PEM private key") from None
        raise PassphraseError(f"{path} cannot be decrypted with this passphrase") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ca.UnsupportedKey("the signing key must be an ECDSA P-256 key")
    return key


def _load_certificate(path: str) -> x509.Certificate:
    with open(path, "rb") as f:
        data = f.read()
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise click.BadParameter(f"{path}: not a certificate", param_hint="--cert") from None


def _load_ca(path: str) -> tuple[list[x509.Certificate], x509.CertificateRevocationList | None]:
    """The chain ``[issuing CA, root]`` from a PEM bundle, and a CRL if the bundle carries one."""
    with open(path, "rb") as f:
        data = f.read()
    certificates: list[x509.Certificate] = []
    crl = None
    try:
        for match in _PEM_BLOCK.finditer(data):
            if match.group(1) == b"CERTIFICATE":
                certificates.append(x509.load_pem_x509_certificate(match.group(0)))
            elif match.group(1) == b"X509 CRL":
                crl = x509.load_pem_x509_crl(match.group(0))
    except ValueError:
        raise click.BadParameter(t("usage.bad_ca", value=path), param_hint="--ca") from None
    if not certificates:
        raise click.BadParameter(t("usage.bad_ca", value=path), param_hint="--ca")
    # verify_certificate wants the trust anchor last: put the self-issued root there.
    certificates.sort(key=lambda cert: cert.subject == cert.issuer)
    return certificates, crl


def _load_crl(path: str) -> x509.CertificateRevocationList:
    with open(path, "rb") as f:
        data = f.read()
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        raise ca.CRLInvalid(f"{path} is not a CRL") from None


def _trust(ca_path: str | None, crl_path: str | None) -> tuple[list | None, Any]:
    chain, crl = _load_ca(ca_path) if ca_path else (None, None)
    if crl_path:
        crl = _load_crl(crl_path)
    return chain, crl


class _Progress:
    """A progress bar on stderr, fed with (done, total) from crypto.bidpack."""

    def __init__(self, label: str, enabled: bool) -> None:
        self._label = label
        self._enabled = enabled
        self._bar: Any = None

    def __enter__(self) -> _Progress:
        if self._enabled:
            self._bar = click.progressbar(length=1, label=self._label, file=sys.stderr, show_eta=True)
            self._bar.__enter__()
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.length = max(total, 1)
            self._bar.update(done - self._bar.pos)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _progress(ctx: click.Context, label: str) -> _Progress:
    wanted = ctx.find_root().params.get("progress")
    enabled = sys.stderr.isatty() if wanted is None else wanted
    return _Progress(t(label), enabled)


def _line(label: str, value: object) -> None:
    click.echo(f"  {t(label)}: {value}")


def _money(fen: int, currency: str) -> str:
    return f"{fen // 100:,}.{fen % 100:02d} {currency}"


def _part_name(part: str) -> str:
    return t(f"part.{part}")


def _show_signer(signer: bidpack.Signer) -> None:
    identity = signer.identity
    _line("label.signer", f"{identity.org_name} ({identity.credit_code}), CN={identity.common_name}")
    if signer.signing_time is not None:
        _line("label.signed_at", signer.signing_time.isoformat())
    _line("label.assurance", t(f"assurance.{signer.assurance.value}"))
    if signer.assurance is bidpack.Assurance.NO_REVOCATION:
        click.echo(t("warn.no_crl"), err=True)
    elif signer.assurance is bidpack.Assurance.SIGNATURE_ONLY:
        click.echo(t("warn.no_ca"), err=True)


def _show_price_sheet(sheet: dict) -> None:
    currency = sheet["currency"]
    click.echo(f"{t('label.price_sheet')}:")
    _line("label.total", _money(sheet["total_fen"], currency))
    for key, label in (("duration_days", "label.duration"), ("validity_days", "label.validity")):
        if key in sheet:
            _line(label, t("label.days", n=sheet[key]))
    if "warranty_days" in sheet:
        _line("label.warranty", t("label.days", n=sheet["warranty_days"]))
    for key, label in (("quality", "label.quality"), ("project_manager", "label.manager")):
        if key in sheet:
            _line(label, sheet[key])
    for n, item in enumerate(sheet["items"], 1):
        extra = []
        if "quantity" in item:
            extra.append(f"{item['quantity']}{item.get('unit', '')}")
        if "unit_price_fen" in item:
            extra.append(f"@ {_money(item['unit_price_fen'], currency)}")
        detail = f" ({' '.join(extra)})" if extra else ""
        click.echo(f"  {n}. {item['name']}{detail}: {_money(item['amount_fen'], currency)}")
    if "remarks" in sheet:
        _line("label.remarks", sheet["remarks"])


# ------------------------------------------------------------------------------------------ commands


# Options several commands share (click builds a fresh Option each time one is applied).
_key_dir_option = click.option(
    "--key",
    "key_dir",
    cls=_Option,
    required=True,
    type=click.Path(file_okay=False, exists=True),
    help="help.key_dir",
)
_cert_option = click.option(
    "--cert",
    "cert_path",
    cls=_Option,
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="help.cert",
)
_passphrase_file_option = click.option(
    "--passphrase-file",
    cls=_Option,
    type=click.Path(dir_okay=False, exists=True),
    help="help.passphrase_file",
)


@click.group(cls=_Group, help="help.main")
@click.option(
    "--lang",
    cls=_Option,
    type=click.Choice(messages.LANGUAGES),
    default=None,
    is_eager=True,
    expose_value=False,
    callback=_set_language,
    help="help.lang",
)
@click.option("--progress/--no-progress", cls=_Option, default=None, help="help.progress")
@click.option(
    "--version",
    cls=_Option,
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=lambda ctx, param, value: _show_version(ctx, value),
    help="help.version",
)
def cli(progress: bool | None) -> None:
    pass


@cli.command(help="help.keygen")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--org", cls=_Option, required=True, help="help.org")
@click.option(
    "--credit-code", cls=_Option, required=True, callback=_check_credit_code, help="help.credit_code"
)
@click.option("--name", "person", cls=_Option, required=True, help="help.person")
@click.option("--passphrase-file", cls=_Option, type=click.Path(dir_okay=False), help="help.passphrase_file")
def keygen(directory: str, org: str, credit_code: str, person: str, passphrase_file: str | None) -> None:
    try:
        subject = ca.SubjectInfo(org.strip(), person.strip(), credit_code)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    paths = {
        name: os.path.join(directory, name)
        for name in (IDENTITY_FILE, RECIPIENT_FILE, SIGNING_KEY_FILE, CSR_FILE)
    }
    for path in paths.values():
        if os.path.lexists(path):
            raise FileExistsError(f"{path} exists")
    passphrase = _passphrase(passphrase_file, new=True)
    os.makedirs(directory, mode=0o700, exist_ok=True)

    identity = age.generate_identity()
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject.to_name()).sign(key, hashes.SHA256())
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    contents = {
        IDENTITY_FILE: (
            f"# created: {created}\n# public key: {identity.recipient}\n{identity}\n".encode("ascii"),
            0o600,
        ),
        RECIPIENT_FILE: (f"{identity.recipient}\n".encode("ascii"), 0o644),
        SIGNING_KEY_FILE: (
            encrypt_private_key_pem(key, passphrase),
            0o600,
        ),
        CSR_FILE: (csr.public_bytes(serialization.Encoding.PEM), 0o644),
    }
    written: list[str] = []
    try:
        for name, (data, mode) in contents.items():
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            fd = os.open(paths[name], flags, mode)
            written.append(paths[name])
            with open(fd, "wb") as f:
                f.write(data)
    except BaseException:
        # Half a key set is worse than none: the next keygen would refuse to complete it.
        for path in written:
            os.unlink(path)
        raise
    click.echo(t("keygen.done", dir=os.path.abspath(directory)))
    for path in paths.values():
        click.echo(f"  {path}")
    click.echo(t("keygen.recipient", recipient=identity.recipient))
    click.echo(t("keygen.next"))


@cli.command(help="help.seal")
@click.argument("src", type=click.Path(exists=True))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option(
    "--to",
    "recipients",
    cls=_Option,
    multiple=True,
    required=True,
    callback=_parse_recipients,
    help="help.to",
)
@_key_dir_option
@_cert_option
@click.option("--tender", cls=_Option, required=True, callback=_check_tender, help="help.tender")
@click.option(
    "--lot", cls=_Option, type=click.IntRange(1, 9999), default=1, show_default=True, help="help.lot"
)
@click.option("--part", cls=_Option, type=click.Choice(bidpack.PARTS), required=True, help="help.part")
@click.option(
    "--price-sheet", cls=_Option, type=click.Path(dir_okay=False, exists=True), help="help.price_sheet"
)
@click.option("--force", cls=_Option, is_flag=True, help="help.force")
@click.option("--sync", cls=_Option, is_flag=True, help="help.sync")
@click.option("--passphrase-file", cls=_Option, type=click.Path(dir_okay=False), help="help.passphrase_file")
@click.pass_context
def seal(
    ctx: click.Context,
    src: str,
    out: str,
    recipients: list[age.Recipient],
    key_dir: str,
    cert_path: str,
    tender: str,
    lot: int,
    part: str,
    price_sheet: str | None,
    force: bool,
    sync: bool,
    passphrase_file: str | None,
) -> None:
    if part == "commercial" and price_sheet is None:
        raise click.UsageError(t("usage.price_sheet_needed"))
    if part != "commercial" and price_sheet is not None:
        raise click.UsageError(t("usage.price_sheet_only_commercial"))
    own = _own_recipient(key_dir)
    if not [r for r in recipients if r != own]:
        raise click.UsageError(t("usage.no_opening_key"))
    sheet = None
    if price_sheet is not None:
        with open(price_sheet, "rb") as f:
            sheet = bidpack.load_price_sheet(f.read())
    certificate = _load_certificate(cert_path)
    key = _load_signing_key(os.path.join(key_dir, SIGNING_KEY_FILE), passphrase_file)
    with _progress(ctx, "progress.seal") as progress:
        result = bidpack.seal(
            src,
            out,
            recipients=[*recipients, own],
            certificate=certificate,
            private_key=key,
            tender=tender,
            lot=lot,
            part=part,
            price_sheet=sheet,
            machine_fingerprint=fingerprint_sha256(),
            tool_version=bidtool.version(),
            overwrite=force,
            progress=progress,
            sync=sync,
        )
    click.echo(t("seal.done", count=len(result.manifest["files"]), out=result.out_path))
    click.echo(t("seal.signature", sig=result.sig_path))
    _line("label.tender", tender)
    _line("label.lot", lot)
    _line("label.part", _part_name(part))
    _line("label.sha256", result.ciphertext_sha256)
    _line("label.size", t("label.bytes", n=result.ciphertext_size))


def _own_recipient(key_dir: str) -> age.Recipient:
    with open(os.path.join(key_dir, RECIPIENT_FILE), encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    if len(lines) != 1:
        raise age.BadKeyEncodingError(f"{RECIPIENT_FILE} must hold exactly one recipient")
    own = age.Recipient.parse(lines[0])
    identity_path = os.path.join(key_dir, IDENTITY_FILE)
    if os.path.exists(identity_path):
        # Sealing to a recipient whose identity is lost would lock the tenderer out of its own bid.
        with open(identity_path, encoding="utf-8") as f:
            identities = age.parse_identities(f.read())
        if own not in [identity.recipient for identity in identities]:
            raise bidpack.BidKeyMismatch(f"{RECIPIENT_FILE} does not belong to {IDENTITY_FILE}")
    return own


def _expectations(func: Any) -> Any:
    func = click.option(
        "--part", "expect_part", cls=_Option, type=click.Choice(bidpack.PARTS), help="help.expect_part"
    )(func)
    func = click.option(
        "--lot", "expect_lot", cls=_Option, type=click.IntRange(1, 9999), help="help.expect_lot"
    )(func)
    func = click.option(
        "--tender", "expect_tender", cls=_Option, callback=_check_tender, help="help.expect_tender"
    )(func)
    func = click.option("--at", cls=_Option, callback=_parse_time, help="help.at")(func)
    return func


@cli.command(help="help.verify")
@click.argument("out", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--ca",
    "ca_path",
    cls=_Option,
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="help.ca",
)
@click.option("--crl", "crl_path", cls=_Option, type=click.Path(dir_okay=False, exists=True), help="help.crl")
@click.option("--sig", "sig_path", cls=_Option, type=click.Path(dir_okay=False, exists=True), help="help.sig")
@_expectations
@click.pass_context
def verify(
    ctx: click.Context,
    out: str,
    ca_path: str,
    crl_path: str | None,
    sig_path: str | None,
    at: datetime | None,
    expect_tender: str | None,
    expect_lot: int | None,
    expect_part: str | None,
) -> None:
    chain, crl = _trust(ca_path, crl_path)
    with _progress(ctx, "progress.verify") as progress:
        result = bidpack.verify_envelope(
            out,
            sig_path,
            chain=chain,
            crl=crl,
            at=at or datetime.now(UTC),
            tender=expect_tender,
            lot=expect_lot,
            part=expect_part,
            progress=progress,
        )
    statement = result.statement
    click.echo(t("verify.ok", out=out))
    _line("label.tender", statement["tender"])
    _line("label.lot", statement["lot"])
    _line("label.part", _part_name(statement["part"]))
    _line("label.tenderer", statement["tenderer"])
    _line("label.sha256", statement["ciphertext_sha256"])
    _line("label.size", t("label.bytes", n=statement["ciphertext_size"]))
    _line("label.recipients", result.recipients)
    _show_signer(result.signer)


@cli.command("open", help="help.open")
@click.argument("out", type=click.Path(dir_okay=False, exists=True))
@click.argument("dest", type=click.Path())
@click.option(
    "--identity",
    "identity_path",
    cls=_Option,
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="help.identity",
)
@click.option("--ca", "ca_path", cls=_Option, type=click.Path(dir_okay=False, exists=True), help="help.ca")
@click.option("--crl", "crl_path", cls=_Option, type=click.Path(dir_okay=False, exists=True), help="help.crl")
@_expectations
@click.pass_context
def open_command(
    ctx: click.Context,
    out: str,
    dest: str,
    identity_path: str,
    ca_path: str | None,
    crl_path: str | None,
    at: datetime | None,
    expect_tender: str | None,
    expect_lot: int | None,
    expect_part: str | None,
) -> None:
    with open(identity_path, encoding="utf-8") as f:
        identities = age.parse_identities(f.read())
    chain, crl = _trust(ca_path, crl_path)
    with _progress(ctx, "progress.open") as progress:
        result = bidpack.open_part(
            out,
            dest,
            identities=identities,
            chain=chain,
            crl=crl,
            at=at or datetime.now(UTC),
            tender=expect_tender,
            lot=expect_lot,
            part=expect_part,
            progress=progress,
        )
    manifest = result.manifest
    click.echo(t("open.ok", dest=result.dest))
    _line("label.tender", manifest["tender"])
    _line("label.lot", manifest["lot"])
    _line("label.part", _part_name(manifest["part"]))
    _line("label.tenderer", f"{manifest['tenderer']['name']} ({manifest['tenderer']['credit_code']})")
    _line("label.created_at", manifest["created_at"])
    _line("label.tool", f"{manifest['tool']['name']} {manifest['tool']['version']}")
    _line("label.machine", manifest["machine_fingerprint_sha256"])
    _show_signer(result.signer)
    click.echo(f"{t('label.files')}:")
    for entry in manifest["files"]:
        click.echo(f"  {entry['name']}  ({t('label.bytes', n=entry['size'])})")
    if "price_sheet" in manifest:
        _show_price_sheet(manifest["price_sheet"])


@cli.command(help="help.fingerprint")
@click.option("--show", cls=_Option, is_flag=True, help="help.show")
def fingerprint(show: bool) -> None:
    click.echo(t("fingerprint.value", value=fingerprint_sha256()))
    if show:
        for kind, value in identifiers():
            click.echo(f"  {kind}={value}")


def _key_text(value: str) -> str:
    """A key given on the command line, or the file that holds it."""
    path = Path(value)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return value.strip()


def _default_state() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.environ.get("BIDTOOL_STATE") or os.path.join(base, "bidtool", "checkpoints.json")


_log_trust_options = (
    click.option("--log-key", cls=_Option, help="help.log_key"),
    click.option("--witness-key", "witness_keys", cls=_Option, multiple=True, help="help.witness_key"),
    click.option("--state", "state_path", cls=_Option, type=click.Path(dir_okay=False), help="help.state"),
)


def _with_log_trust(command: Any) -> Any:
    for decorate in reversed(_log_trust_options):
        command = decorate(command)
    return command


def _log_trust(log_key: str | None, witness_keys: tuple[str, ...]) -> logproof.Trust | None:
    if not log_key and not witness_keys:
        return None
    if not log_key or not witness_keys:
        raise click.UsageError(t("usage.log_trust"))
    try:
        return logproof.Trust.from_keys(_key_text(log_key), [_key_text(k) for k in witness_keys])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--log-key / --witness-key") from None


def _observe(trust: logproof.Trust, signed: str, state_path: str | None, server: str | None) -> None:
    """Check a cosigned checkpoint against the latest one this machine has seen, and remember it."""
    memory = logproof.CheckpointMemory(state_path or _default_state())
    fetch = None
    if server:
        from bidtool import client

        fetch = client.consistency_fetcher(client.Api(server))
    try:
        seen = memory.observe(signed, trust, fetch)
    except (logproof.RollbackDetected, logproof.ForkDetected) as exc:
        click.echo(t("log.alarm"), err=True)
        raise exc from None
    if seen.status == "unchecked":
        click.echo(t("log.unchecked", old=seen.remembered, new=seen.size), err=True)
    else:
        _line("log.memory", t(f"log.seen_{seen.status}", old=seen.remembered, new=seen.size))


@cli.command("verify-receipt", help="help.verify_receipt")
@click.argument("receipt", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--key",
    "key_path",
    cls=_Option,
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="help.receipt_key",
)
@click.option(
    "--bid",
    "bids",
    cls=_Option,
    multiple=True,
    type=click.Path(dir_okay=False, exists=True),
    help="help.receipt_bid",
)
@_with_log_trust
@click.option("--server", cls=_Option, envvar="BIDTOOL_SERVER", help="help.server_consistency")
def verify_receipt(
    receipt: str,
    key_path: str,
    bids: tuple[str, ...],
    log_key: str | None,
    witness_keys: tuple[str, ...],
    state_path: str | None,
    server: str | None,
) -> None:
    with open(key_path, "rb") as f:
        public_key = receipts.load_public_key_pem(f.read())
    with open(receipt, "rb") as f:
        document = f.read(receipts.MAX_DOCUMENT + 1)
    payload = receipts.verify_receipt(document, public_key)
    matched = []
    for path in bids:
        digest, size = _sha256_file(path)
        part = next((p for p in payload["parts"] if p["sha256"] == digest and p["size"] == size), None)
        if part is None:
            raise Refused("receipt_bid_mismatch", f"{path} (sha256 {digest}) is not in the receipt")
        matched.append((path, part["part"]))
    trust = _log_trust(log_key, witness_keys)
    proof = receipts.proof_of(document)
    proven = None
    if trust is not None:
        proven = receipts.verify_receipt_proof(payload, proof, trust)
    click.echo(t("receipt.ok"))
    _line("label.tender", payload["tender_id"])
    _line("label.lot", payload["lot"])
    _line("receipt.bid_id", payload["bid_id"])
    _line("label.tenderer", payload["tenderer"])
    _line("receipt.received_at", payload["received_at"])
    _line("receipt.audit_index", payload["audit_index"])
    for part in payload["parts"]:
        click.echo(f"  {part['part']}: {part['sha256']} ({t('label.bytes', n=part['size'])})")
    for path, part_name in matched:
        click.echo(t("receipt.part_ok", path=path, part=part_name))
    if trust is None or proven is None:  # no log key given: the proof is not checked
        click.echo(t("warn.proof_unchecked"), err=True)
        return
    assert proof is not None  # verify_receipt_proof refuses a receipt without one
    checkpoint = proven.checkpoint
    _line("log.included", t("log.included_in", index=proven.index, size=checkpoint.checkpoint.size))
    for name, stamp in sorted(checkpoint.cosigned_at.items()):
        _line("log.cosigned", f"{name} ({datetime.fromtimestamp(stamp, UTC).isoformat()})")
    if not proven.disclosed:
        click.echo(t("warn.commitment_only"), err=True)
    _observe(trust, proof["checkpoint"], state_path, server)
    if server:
        from bidtool import client

        latest = client.latest_cosigned(client.Api(server))
        if latest is None:
            raise Refused("checkpoint_not_witnessed", "the platform serves no cosigned checkpoint")
        _observe(trust, latest, state_path, server)


@cli.command("checkpoint", help="help.checkpoint")
@click.option("--server", cls=_Option, required=True, envvar="BIDTOOL_SERVER", help="help.server")
@_with_log_trust
def checkpoint(
    server: str, log_key: str | None, witness_keys: tuple[str, ...], state_path: str | None
) -> None:
    from bidtool import client

    trust = _log_trust(log_key, witness_keys)
    if trust is None:
        raise click.UsageError(t("usage.log_trust"))
    latest = client.latest_cosigned(client.Api(server))
    if latest is None:
        raise Refused("checkpoint_not_witnessed", "the platform serves no cosigned checkpoint")
    opened = trust.open(latest)
    click.echo(t("log.checkpoint_ok", size=opened.checkpoint.size))
    _observe(trust, latest, state_path, server)


@cli.command("verify-draw", help="help.verify_draw")
@click.argument("proof", type=click.Path(dir_okay=False, exists=True))
def verify_draw(proof: str) -> None:
    with open(proof, "rb") as f:
        raw = f.read()
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise selection.ProofError("proof_malformed", str(exc)) from exc
    result = selection.verify(document)
    click.echo(t("draw.ok"))
    _line("draw.id", document["draw_id"])
    _line("label.tender", document.get("tender_id"))
    _line("draw.commitment", document["commitment"])
    _line("draw.audit_index", document.get("commitment_audit_index"))
    _line("draw.seed", result["seed"])
    for code, ids in result["selected"].items():
        click.echo(t("draw.selected", specialty=code, n=len(ids), pool=len(document["pool"][code])))
        for n, expert in enumerate(ids, start=1):
            click.echo(f"    {n}. {expert}")


@cli.command("login-sign", help="help.login_sign")
@_key_dir_option
@_cert_option
@_passphrase_file_option
@click.argument("nonce")
def login_sign(key_dir: str, cert_path: str, passphrase_file: str | None, nonce: str) -> None:
    from bidtool import client

    key = _load_signing_key(os.path.join(key_dir, "signing-key.pem"), passphrase_file)
    certificate = _load_certificate(cert_path)
    click.echo(client.login_code(certificate.public_bytes(serialization.Encoding.PEM).decode(), key, nonce))


def _api_options(command: Any) -> Any:
    """The options every command that talks to the platform shares: where, and who signs in."""
    for decorate in reversed(
        (
            click.option("--server", cls=_Option, required=True, envvar="BIDTOOL_SERVER", help="help.server"),
            _key_dir_option,
            _cert_option,
            _passphrase_file_option,
            click.option("--tender", cls=_Option, required=True, help="help.tender"),
            click.option(
                "--part", "parts", cls=_Option, required=True, multiple=True, help="help.submit_part"
            ),
        )
    ):
        command = decorate(command)
    return command


def _part_files(parts: tuple[str, ...], *, with_signature: bool) -> dict[str, Path]:
    """``PART=FILE`` options as a mapping; the file (and its .sig when needed) must exist."""
    files: dict[str, Path] = {}
    for item in parts:
        name, _, path = item.partition("=")
        if (
            name not in bidpack.PARTS
            or not Path(path).is_file()
            or (with_signature and not Path(f"{path}.sig").is_file())
        ):
            raise click.BadParameter(item, param_hint="--part")
        files[name] = Path(path)
    return files


def _signed_in(server: str, key_dir: str, cert_path: str, passphrase_file: str | None) -> client.Api:
    """Certificate sign-in: the signing key proves who is calling, no password is involved."""
    from bidtool import client

    key = _load_signing_key(os.path.join(key_dir, "signing-key.pem"), passphrase_file)
    api = client.Api(server)
    client.certificate_sign_in(api, _load_certificate(cert_path), key)
    return api


@cli.command(help="help.submit")
@_api_options
@click.option("--lot", cls=_Option, default=1, show_default=True, type=int, help="help.lot")
@click.option(
    "--receipt", "receipt_path", cls=_Option, type=click.Path(dir_okay=False), help="help.receipt_out"
)
def submit(
    server: str,
    key_dir: str,
    cert_path: str,
    passphrase_file: str | None,
    tender: str,
    parts: tuple[str, ...],
    lot: int,
    receipt_path: str | None,
) -> None:
    files = {
        name: (path, Path(f"{path}.sig")) for name, path in _part_files(parts, with_signature=True).items()
    }
    api = _signed_in(server, key_dir, cert_path, passphrase_file)
    bars: dict[str, Any] = {}

    def progress(part: str, done: int, total: int) -> None:
        if part not in bars:
            bars[part] = click.progressbar(
                length=max(total, 1), label=t("submit.uploading", part=part), file=sys.stderr
            )
            bars[part].__enter__()
        bar = bars[part]
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    from bidtool import client

    receipt = client.submit_bid(api, tender, lot, files, progress)
    payload = json.loads(receipt)["receipt"]
    target = receipt_path or f"receipt-{payload['bid_id']}.json"
    with open(target, "wb") as f:
        f.write(receipt)
    click.echo(t("submit.ok", path=target))
    _line("receipt.bid_id", payload["bid_id"])
    _line("receipt.received_at", payload["received_at"])
    _line("receipt.audit_index", payload["audit_index"])


@cli.command(help="help.decrypt")
@_api_options
@click.option("--bid", "bid_id", cls=_Option, required=True, help="help.bid_id")
def decrypt(
    server: str,
    key_dir: str,
    cert_path: str,
    passphrase_file: str | None,
    tender: str,
    parts: tuple[str, ...],
    bid_id: str,
) -> None:
    sealed = _part_files(parts, with_signature=False)
    with open(os.path.join(key_dir, "identity.txt"), encoding="ascii") as f:
        identities = age.parse_identities(f.read())
    api = _signed_in(server, key_dir, cert_path, passphrase_file)
    from bidtool import client

    answer = client.decrypt_online(api, tender, bid_id, sealed, identities)
    failed = False
    for result in answer["results"]:
        if result["status"] == "ok":
            status = t(f"decrypt.{result.get('attempt', 'opened')}")
        elif result["status"] == "pending":
            status = t("decrypt.not_sent")
        else:
            code = result["failure_code"]
            status = f"{t('decrypt.failed')} [{code}] {messages.error_text(code)}"
            if result.get("platform_fault"):
                status += " " + t("decrypt.platform_fault")
        failed |= result["status"] != "ok"
        click.echo(t("decrypt.result", part=_part_name(result["part"]), status=status))
    if failed or not answer["results"]:
        raise Refused("bid_not_decrypted", "some parts are not opened")


@cli.group(cls=_Group, help="help.custodian")
def custodian() -> None:
    pass


@custodian.command("release", help="help.release")
@click.option("--server", cls=_Option, required=True, envvar="BIDTOOL_SERVER", help="help.server")
@click.option("--token", cls=_Option, required=True, envvar="BIDTOOL_TOKEN", help="help.token")
@click.option(
    "--identity",
    "identity_path",
    cls=_Option,
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="help.identity_file",
)
@click.option("--tender", cls=_Option, required=True, help="help.tender")
def release(server: str, token: str, identity_path: str, tender: str) -> None:
    with open(identity_path, encoding="ascii") as f:
        identities = age.parse_identities(f.read())
    from bidtool import client

    answer = client.release_share(client.Api(server, token), tender, identities)
    click.echo(t("release.ok", role=answer["role"]))


def _sha256_file(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def main() -> None:
    cli(prog_name="bidtool")
