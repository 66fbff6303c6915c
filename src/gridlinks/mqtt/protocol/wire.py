"""Primitive MQTT data types: integers, variable byte integers, UTF-8 strings, binary data."""

from __future__ import annotations

from gridlinks.mqtt.protocol.packets import MalformedPacket

MAX_VARIABLE_BYTE_INTEGER = 268_435_455
MAX_TWO_BYTE = 0xFFFF


class Reader:
    """Reads primitives from one packet body; running short raises ``MalformedPacket``."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._position

    def take(self, count: int) -> bytes:
        if count > self.remaining:
            raise MalformedPacket("packet ends in the middle of a field")
        start = self._position
        self._position += count
        return self._data[start : self._position]

    def byte(self) -> int:
        return self.take(1)[0]

    def two_byte_int(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def four_byte_int(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def variable_byte_int(self) -> int:
        value, length = decode_variable_byte_int(self._data, self._position)
        if length is None:
            raise MalformedPacket("packet ends in the middle of a variable byte integer")
        self._position += length
        return value

    def binary(self) -> bytes:
        return self.take(self.two_byte_int())

    def utf8(self) -> str:
        return decode_utf8(self.binary())

    def utf8_pair(self) -> tuple[str, str]:
        return self.utf8(), self.utf8()

    def rest(self) -> bytes:
        return self.take(self.remaining)

    def expect_end(self) -> None:
        if self.remaining:
            raise MalformedPacket(f"{self.remaining} unexpected bytes at the end of the packet")


def decode_variable_byte_int(data: bytes | bytearray, start: int) -> tuple[int, int | None]:
    """Return (value, bytes used), or (0, None) when ``data`` ends before the integer does."""
    value = 0
    for index in range(4):
        if start + index >= len(data):
            return 0, None
        byte = data[start + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if index and byte == 0:
                raise MalformedPacket("variable byte integer is not minimally encoded")
            return value, index + 1
    raise MalformedPacket("variable byte integer is longer than 4 bytes")


def encode_variable_byte_int(value: int) -> bytes:
    if not 0 <= value <= MAX_VARIABLE_BYTE_INTEGER:
        raise MalformedPacket(f"{value} does not fit a variable byte integer")
    encoded = bytearray()
    while True:
        value, digit = divmod(value, 128)
        encoded.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(encoded)


def decode_utf8(raw: bytes) -> str:
    # Python's strict UTF-8 decoder already refuses encoded surrogates and overlong forms.
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedPacket("string is not well-formed UTF-8") from error
    if "\x00" in text:
        raise MalformedPacket("string contains U+0000")
    return text


def encode_two_byte_int(value: int) -> bytes:
    if not 0 <= value <= MAX_TWO_BYTE:
        raise MalformedPacket(f"{value} does not fit a two byte integer")
    return value.to_bytes(2, "big")


def encode_four_byte_int(value: int) -> bytes:
    if not 0 <= value <= 0xFFFF_FFFF:
        raise MalformedPacket(f"{value} does not fit a four byte integer")
    return value.to_bytes(4, "big")


def encode_byte(value: int) -> bytes:
    if not 0 <= value <= 0xFF:
        raise MalformedPacket(f"{value} does not fit a byte")
    return bytes((value,))


def encode_binary(value: bytes) -> bytes:
    return encode_two_byte_int(len(value)) + value


def encode_utf8(text: str) -> bytes:
    if "\x00" in text:
        raise MalformedPacket("string contains U+0000")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise MalformedPacket("string contains a surrogate code point") from error
    if len(raw) > MAX_TWO_BYTE:
        raise MalformedPacket("string is longer than 65535 bytes")
    return encode_binary(raw)
