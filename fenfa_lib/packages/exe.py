"""Windows executables (.exe): the version resource and machine type, read with pefile.

An executable names no identifier; its version is the ProductVersion string, else FileVersion, else the fixed
file version numbers, whichever is first to be storable. Nothing here refuses a file: a setup program's
resources are its own business.
"""
import pefile

from fenfa_lib.packages.appinfo import MAX_VERSION_LENGTH, AppInfo
from fenfa_lib.packages.desktop import arch_metadata, desktop_app_info, metadata_text

RESOURCE_DIRECTORY = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]
CLR_DIRECTORY = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR"]


def parse_exe(path):
    """AppInfo from a PE file's StringFileInfo (ProductName, ProductVersion or FileVersion, CompanyName) and
    its FILE_HEADER machine; an empty AppInfo when pefile cannot read it."""
    try:
        pe = pefile.PE(str(path), fast_load=True)
        try:
            pe.parse_data_directories(directories=[RESOURCE_DIRECTORY])
            strings, fixed = _version_strings(pe), _fixed_version(pe)
            machine = pefile.MACHINE_TYPE.get(pe.FILE_HEADER.Machine, "")
            directories = pe.OPTIONAL_HEADER.DATA_DIRECTORY
            dotnet = len(directories) > CLR_DIRECTORY and directories[CLR_DIRECTORY].VirtualAddress != 0
        finally:
            pe.close()
    except Exception:  # pefile raises PEFormatError, and struct or index errors on some malformed files
        return AppInfo()
    versions = [strings.get("ProductVersion"), strings.get("FileVersion"), fixed]
    version = next((value for value in versions if value and len(value) <= MAX_VERSION_LENGTH and value.isprintable()),
                   "")
    return desktop_app_info("exe", "windows", version=version, name=strings.get("ProductName"), metadata={
        **arch_metadata(machine.removeprefix("IMAGE_FILE_MACHINE_").lower() or None),
        "company": strings.get("CompanyName"),
        "file_version": strings.get("FileVersion") or fixed,
        "dotnet": dotnet,
    })


def _version_strings(pe):
    """The first string table's entries as text without control characters."""
    for file_info in getattr(pe, "FileInfo", None) or []:
        for entry in file_info:
            for table in getattr(entry, "StringTable", None) or []:
                return {key.decode("utf-8", "replace"): metadata_text(value.decode("utf-8", "replace"))
                        for key, value in table.entries.items()}
    return {}


def _fixed_version(pe):
    """VS_FIXEDFILEINFO's file version as "a.b.c.d", or None."""
    fixed = getattr(pe, "VS_FIXEDFILEINFO", None)
    if not fixed:
        return None
    high, low = fixed[0].FileVersionMS, fixed[0].FileVersionLS
    return f"{high >> 16}.{high & 0xFFFF}.{low >> 16}.{low & 0xFFFF}"
