"""CMS (PKCS#7) SignedData envelopes: the content they carry, whether DER or BER-chunked."""


class CMSError(ValueError):
    """The bytes are not a readable CMS SignedData envelope with embedded content."""


class NotSignedData(CMSError):
    """A readable CMS structure, but of another content type than SignedData."""


def cms_content(data):
    """The encapsulated content of a ContentInfo(SignedData) as bytes.

    asn1crypto joins indefinite-length, chunked OCTET STRINGs that byte slicing would break.
    The signature is not verified.
    """
    from asn1crypto import cms  # 2 MiB and 20 ms at start-up: only profile uploads and device callbacks pay

    try:
        content_info = cms.ContentInfo.load(data)
        content_type = content_info["content_type"].native
    except Exception as exc:  # asn1crypto raises many exception types on malformed input
        raise CMSError("not a CMS structure") from exc
    if content_type != "signed_data":
        raise NotSignedData(f"CMS content type is {content_type}, not signed data")
    try:
        content = content_info["content"]["encap_content_info"]["content"].native
    except Exception as exc:
        raise CMSError("CMS signed data is malformed") from exc
    if not isinstance(content, bytes):
        raise CMSError("CMS signed data has no embedded content")
    return content
