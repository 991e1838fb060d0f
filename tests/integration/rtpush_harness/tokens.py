"""Identity: JWTs minted at test time (HS256, alg none, RS256 and ES256 with
keys made by openssl).
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile


def b64url(data):
    """Unpadded base64url (RFC 7515), of bytes or of a str's UTF-8."""
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_part(value):
    return b64url(json.dumps(value, separators=(",", ":")))


def mint_hs256(secret, claims, header=None):
    """A JWT signed HS256 with `secret` (str or bytes). `header` replaces the
    default {"alg":"HS256","typ":"JWT"} (to forge an alg)."""
    import hashlib
    import hmac
    key = secret.encode() if isinstance(secret, str) else secret
    signing_input = _json_part(header or {"alg": "HS256", "typ": "JWT"}) + "." + _json_part(claims)
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def mint_unsigned(claims):
    """alg none: an empty signature."""
    return _json_part({"alg": "none", "typ": "JWT"}) + "." + _json_part(claims) + "."


def _der_ecdsa_to_raw(der, size=32):
    """An ECDSA signature as OpenSSL writes it (DER SEQUENCE of two INTEGERs)
    to JWS's fixed-width r || s."""
    assert der[0] == 0x30, der[:4]
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        value = der[i + 2:i + 2 + n].lstrip(b"\x00")
        out += value.rjust(size, b"\x00")
        i += 2 + n
    return out


class KeyPair:
    """A key made at test time with `openssl genpkey`: kind "rsa" (RS256,
    2048 bits) or "ec" (ES256, P-256). `public_pem` is what the
    jwt-public-key-file holds."""

    def __init__(self, kind):
        self.kind = kind
        self.alg = "RS256" if kind == "rsa" else "ES256"
        self.dir = tempfile.mkdtemp(prefix="rtpush-key-")
        self.private_path = os.path.join(self.dir, "private.pem")
        spec = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] if kind == "rsa" else \
               ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        subprocess.run(["openssl", "genpkey"] + spec + ["-out", self.private_path], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.public_pem = subprocess.run(["openssl", "pkey", "-in", self.private_path, "-pubout"], check=True,
                                         capture_output=True, text=True).stdout

    def mint(self, claims, header=None):
        signing_input = _json_part(header or {"alg": self.alg, "typ": "JWT"}) + "." + _json_part(claims)
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.private_path], input=signing_input.encode(),
                             check=True, capture_output=True).stdout
        if self.kind == "ec":
            sig = _der_ecdsa_to_raw(sig)
        return signing_input + "." + b64url(sig)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
