"""Writes the small real media files the end-to-end tests send: run `python3 make.py` here.

voice.ogg  an Ogg Opus stream (OpusHead, OpusTags, one second of silent 20 ms frames), as
           Telegram's voice notes are
pixel.png  a 2x2 RGB PNG
report.pdf a one-page PDF whose text layer says REPORT_TEXT
"""
import struct
import zlib

REPORT_TEXT = "Quarterly revenue grew by 42 percent"


def ogg_crc(data):
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_page(packets, granule, seq, flags):
    segments = []
    for packet in packets:
        length = len(packet)
        segments += [255] * (length // 255) + [length % 255]
    header = b"OggS" + struct.pack("<BBqIIIB", 0, flags, granule, 0x0BA70, seq, 0, len(segments))
    page = header + bytes(segments) + b"".join(packets)
    crc = ogg_crc(page)
    return page[:22] + struct.pack("<I", crc) + page[26:]


def voice():
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    vendor = b"baton tests"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    silence = [bytes([0xF8, 0xFF, 0xFE])] * 50
    return (
        ogg_page([head], 0, 0, 0x02)
        + ogg_page([tags], 0, 1, 0x00)
        + ogg_page(silence, 312 + 48000, 2, 0x04)
    )


def png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf():
    stream = ("BT /F1 18 Tf 72 720 Td (%s) Tj ET" % REPORT_TEXT).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


for name, data in [("voice.ogg", voice()), ("pixel.png", png()), ("report.pdf", pdf())]:
    with open(name, "wb") as f:
        f.write(data)
