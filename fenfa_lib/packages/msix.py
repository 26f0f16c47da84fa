"""Windows app packages (.msix): Identity, DisplayName, target device family and logo from AppxManifest.xml."""
import re
from urllib.parse import unquote

from fenfa_lib.config import MIB
from fenfa_lib.packages.appinfo import PackageError, metadata_errors_as_package_error
from fenfa_lib.packages.desktop import arch_metadata, desktop_app_info, local_name, metadata_text, parse_xml
from fenfa_lib.packages.images import verified_image
from fenfa_lib.packages.ziputil import open_zip, read_member, read_optional

MANIFEST = "AppxManifest.xml"
MANIFEST_LIMIT = 4 * MIB
LOGO_LIMIT = 4 * MIB
MAX_LOGO_CANDIDATES = 16
RESOURCE_REFERENCE = "ms-resource:"


def parse_msix(path):
    """AppInfo for an .msix: Identity Name as identifier, Version, ProcessorArchitecture (neutral when absent),
    Properties' DisplayName and Logo, and the first TargetDeviceFamily's MinVersion as minimum OS."""
    with open_zip(path, "MSIX") as archive, metadata_errors_as_package_error("MSIX"):
        root = parse_xml(read_member(archive, MANIFEST, MANIFEST_LIMIT), MANIFEST)
        elements = {}
        for element in root.iter():
            elements.setdefault(local_name(element), element)
        identity = elements.get("Identity")
        if local_name(root) != "Package" or identity is None:
            raise PackageError(f"{MANIFEST} has no Package Identity")
        name = _text(elements.get("DisplayName"))
        device_family = elements.get("TargetDeviceFamily")
        device_family = device_family.attrib if device_family is not None else {}
        logo = _text(elements.get("Logo"))
        return desktop_app_info(
            "msix", "windows",
            identifier=identity.get("Name", ""),
            version=identity.get("Version", ""),
            name=None if (name or "").startswith(RESOURCE_REFERENCE) else name,
            min_os=device_family.get("MinVersion"),
            icon=_logo(archive, logo) if logo else None,
            metadata={**arch_metadata(identity.get("ProcessorArchitecture") or "neutral"),
                      "publisher": metadata_text(identity.get("Publisher")),
                      "target_device_family": metadata_text(device_family.get("Name"))},
        )


def _text(element):
    return (element.text or "").strip() or None if element is not None else None


def _logo(archive, logo):
    """The largest readable PNG among the logo file and its qualified variants (Logo.scale-200.png,
    Logo.targetsize-256.png...), which is how MSIX packages usually hold the file the manifest names."""
    stem, _, extension = logo.replace("\\", "/").lower().rpartition(".")
    variant = re.compile(re.escape(stem) + r"(\.[^/]+)?\." + re.escape(extension))
    candidates = sorted(((info.file_size, info.filename) for info in archive.infolist()
                         if variant.fullmatch(unquote(info.filename).lower())), reverse=True)
    for _, name in candidates[:MAX_LOGO_CANDIDATES]:
        data = read_optional(archive, name, LOGO_LIMIT)
        if data and verified_image(data) == "png":
            return data
    return None
