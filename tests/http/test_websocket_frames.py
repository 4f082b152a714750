"""Text frames written straight to uvicorn's WebSocket transport (app.http.websocket_frames)."""

from __future__ import annotations

import pytest
from websockets.frames import OP_TEXT, Frame
from websockets.streams import StreamReader

from app.http.websocket_frames import text_frame


def _parsed(data: bytes, count: int) -> list[Frame]:
    """`count` frames read from `data` by the websockets library's client-side parser (all of `data`)."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    for _ in range(count):
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
            raise AssertionError("the frame is incomplete")
        except StopIteration as done:
            frames.append(done.value)
    assert not reader.buffer, "bytes left after the frames"
    return frames


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 70_001])
def test_a_text_frame_is_one_unmasked_final_frame_of_exactly_the_payload_at_every_length_encoding(size: int) -> None:
    payload = ("é" * size).encode()[:size]  # bytes as given: the frame does not look inside them
    # back to back, as they go on a socket: the header's length is exact, the next frame starts right after
    frames = _parsed(text_frame(payload) + text_frame(b"next"), 2)
    for frame in frames:
        assert (frame.opcode, frame.fin, frame.rsv1, frame.rsv2, frame.rsv3) == (OP_TEXT, True, False, False, False)
    assert [frame.data for frame in frames] == [payload, b"next"]
