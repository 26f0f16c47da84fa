"""AppImages (.AppImage): the architecture of their ELF runtime and the AppImage type in its header."""
from fenfa_lib.packages.appinfo import AppInfo
from fenfa_lib.packages.desktop import arch_metadata, desktop_app_info

ELF_MAGIC = b"\x7fELF"
ELF_CLASSES = {1: "ELF32", 2: "ELF64"}
ELF_BYTE_ORDERS = {1: "little", 2: "big"}
MACHINES = {3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 40: "arm", 62: "x86_64", 183: "aarch64", 243: "riscv"}
APPIMAGE_MAGIC = b"AI"  # at e_ident[8], followed by the type byte


def parse_appimage(path):
    """AppInfo with the runtime's architecture and the AppImage type (1: ISO 9660, 2: SquashFS), as far as the
    ELF header tells; an AppImage names no identifier or version of its own outside its payload."""
    with open(path, "rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or not header.startswith(ELF_MAGIC) or header[5] not in ELF_BYTE_ORDERS:
        return AppInfo()
    machine = int.from_bytes(header[18:20], ELF_BYTE_ORDERS[header[5]])
    appimage_type = header[10] if header[8:10] == APPIMAGE_MAGIC and header[10] in (1, 2) else None
    return desktop_app_info("appimage", "linux", metadata={
        **arch_metadata(MACHINES.get(machine)),
        "elf_class": ELF_CLASSES.get(header[4]),
        "elf_machine": machine,
        "appimage_type": appimage_type,
    })
