"""The host facility's PAdES signature on the minutes' PDF (pyHanko), with the facility's
certificate from a PKCS#12 file named after its code (``<code>.p12``) in one directory."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from .errors import Conflict
from .messages import msg

SIGNATURE_FIELD = "ChuKyCoSo"


@dataclass(frozen=True, slots=True)
class FacilityCertificates:
    """Where the facilities' certificates live and the passphrase that opens them."""

    directory: Path
    passphrase: str | None = None

    def path_for(self, facility_code: str) -> Path:
        """The PKCS#12 file of a facility."""
        return self.directory / f"{facility_code}.p12"

    def _load(self, facility_code: str) -> signers.SimpleSigner:
        path = self.path_for(facility_code)
        if not path.is_file():
            raise Conflict(
                msg(
                    "Cơ sở %(code)s chưa có chứng thư số để ký biên bản; "
                    "quản trị viên cần cài tệp PKCS#12 của cơ sở",
                    code=facility_code,
                )
            )
        secret = self.passphrase.encode() if self.passphrase else None
        loaded: signers.SimpleSigner | None = signers.SimpleSigner.load_pkcs12(  # type: ignore[no-untyped-call]
            pfx_file=str(path), passphrase=secret
        )
        if loaded is None:
            raise Conflict(msg("Không mở được chứng thư số của cơ sở %(code)s", code=facility_code))
        return loaded

    async def signer(self, facility_code: str) -> signers.SimpleSigner:
        """The facility's signer (its key and certificate)."""
        return await asyncio.to_thread(self._load, facility_code)

    def trust_roots(self, facility_code: str) -> list[asn1_x509.Certificate]:
        """The certificates a signature of this facility must chain to: the issuers bundled in
        its PKCS#12 file (its CA), else its own certificate; none when it has no file."""
        path = self.path_for(facility_code)
        if not path.is_file():
            return []
        secret = self.passphrase.encode() if self.passphrase else None
        _, cert, extra = pkcs12.load_key_and_certificates(path.read_bytes(), secret)
        chosen = list(extra) or ([cert] if cert is not None else [])
        return [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in chosen
        ]


async def sign_pdf(
    pdf: bytes, *, signer: signers.SimpleSigner, reason: str, location: str, name: str
) -> bytes:
    """The PDF with a PAdES signature over the whole file."""
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        name=name,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = await signers.PdfSigner(meta, signer=signer).async_sign_pdf(writer)
    signed: bytes = out.getvalue()
    return signed


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What a PDF's signature says."""

    signed: bool
    intact: bool = False
    trusted: bool = False
    whole_file: bool = False
    signer: str = ""

    @property
    def ok(self) -> bool:
        """An intact, trusted signature that covers every byte of the file."""
        return self.signed and self.intact and self.trusted and self.whole_file


async def check_pdf(data: bytes, trust: list[asn1_x509.Certificate]) -> SignatureCheck:
    """Validate the first signature of a PDF against the given trusted certificates."""
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = reader.embedded_signatures
    except Exception:
        return SignatureCheck(signed=False)
    if not embedded:
        return SignatureCheck(signed=False)
    sig = embedded[0]
    context = ValidationContext(trust_roots=trust, allow_fetching=False)
    try:
        status = await async_validate_pdf_signature(sig, context)
    except Exception:
        return SignatureCheck(signed=True)
    return SignatureCheck(
        signed=True,
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        signer=status.signing_cert.subject.human_friendly,
    )


def _name(organization: str, unit: str, common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _usage(*, sign_certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign_certs,
        content_commitment=not sign_certs,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certs,
        crl_sign=sign_certs,
        encipher_only=False,
        decipher_only=False,
    )


def make_demo_certificate(path: Path, *, name: str, code: str, passphrase: str | None) -> None:
    """A facility certificate issued by its own test CA, as a PKCS#12 file with the CA inside.

    For demonstrations only: a real facility installs the file its certification authority
    issued. Certificate validators refuse a self-signed signing certificate, hence the CA.
    """
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name(name, code, f"CA thử nghiệm - {name}")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign_certs=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name, code, name))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign_certs=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    data = pkcs12.serialize_key_and_certificates(code.encode(), key, cert, [ca], encryption)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)
