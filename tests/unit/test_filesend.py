"""The receiving side of a local export, fed a scripted packet stream."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from grpc import aio

from buildg_dap._proto.fsutil import types_pb2
from buildg_dap.buildkit.session.filesend import ExportError, _DirReceiver, safe_relative
from buildg_dap.buildkit.session.fswalk import GO_DIR, GO_SYMLINK

Packet = types_pb2.Packet


class ScriptedStream:
    """Plays buildkitd's side: the listing, then DATA for each REQ, then FIN for FIN."""

    def __init__(self, stats: Sequence[types_pb2.Stat], contents: dict[int, list[bytes]]) -> None:
        self.incoming: list[bytes] = [
            Packet(type=Packet.PACKET_STAT, stat=s).SerializeToString() for s in stats
        ]
        self.incoming.append(Packet(type=Packet.PACKET_STAT).SerializeToString())
        self.contents = contents
        self.sent: list[types_pb2.Packet] = []
        self.send, self.receive = anyio.create_memory_object_stream[bytes](100)
        for raw in self.incoming:
            self.send.send_nowait(raw)

    async def read(self) -> object:
        return await self.receive.receive()

    async def write(self, raw: bytes) -> None:
        packet = Packet.FromString(raw)
        self.sent.append(packet)
        if packet.type == Packet.PACKET_REQ:
            for chunk in [*self.contents[packet.ID], b""]:
                out = Packet(type=Packet.PACKET_DATA, ID=packet.ID, data=chunk)
                await self.send.send(out.SerializeToString())
        elif packet.type == Packet.PACKET_FIN:
            await self.send.send(Packet(type=Packet.PACKET_FIN).SerializeToString())


def stat(path: str, mode: int, *, linkname: str = "", mtime: int = 10**18) -> types_pb2.Stat:
    return types_pb2.Stat(path=path, mode=mode, linkname=linkname, modTime=mtime)


def receive(root: Path, stream: ScriptedStream) -> None:
    async def main() -> None:
        await _DirReceiver(root, stream).run()  # type: ignore[arg-type]

    anyio.run(main)


def test_tree_is_written(tmp_path: Path) -> None:
    stream = ScriptedStream(
        [
            stat("d", GO_DIR | 0o750, mtime=5 * 10**9),
            stat("d/f", 0o640, mtime=7 * 10**9),
            stat("h", 0o644, linkname="d/f"),
            stat("l", GO_SYMLINK | 0o777, linkname="/etc/passwd"),
        ],
        {1: [b"ab", b"cd"]},
    )
    receive(tmp_path, stream)
    assert (tmp_path / "d" / "f").read_bytes() == b"abcd"
    assert (tmp_path / "d" / "f").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "d" / "f").stat().st_mtime_ns == 7 * 10**9
    assert (tmp_path / "d").stat().st_mtime_ns == 5 * 10**9
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "h").stat().st_ino == (tmp_path / "d" / "f").stat().st_ino
    assert os.readlink(tmp_path / "l") == "/etc/passwd"
    assert [p.type for p in stream.sent] == [Packet.PACKET_REQ, Packet.PACKET_FIN]


@pytest.mark.parametrize("path", ["../evil", "/abs", "a/../../b", "a//b", "./a", ""])
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(ExportError) as caught:
        safe_relative(path)
    assert str(caught.value) == f"refusing unsafe path {path!r} from buildkitd"


def test_no_write_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    stream = ScriptedStream(
        [stat("s", GO_SYMLINK | 0o777, linkname=str(outside)), stat("s/f", 0o644)], {1: [b"x"]}
    )
    with pytest.raises(ExportError) as caught:
        receive(root, stream)
    assert str(caught.value) == "buildkitd sent 's/f' before its directory"
    assert list(outside.iterdir()) == []


def test_existing_symlink_in_dest_is_replaced_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "d").symlink_to(outside)
    stream = ScriptedStream([stat("d", GO_DIR | 0o755), stat("d/f", 0o644)], {1: [b"x"]})
    receive(root, stream)
    assert (root / "d").is_dir() and not (root / "d").is_symlink()
    assert (root / "d" / "f").read_bytes() == b"x"
    assert list(outside.iterdir()) == []


def test_sender_error_is_reported(tmp_path: Path) -> None:
    stream = ScriptedStream([], {})
    send, stream.receive = anyio.create_memory_object_stream[bytes](1)
    send.send_nowait(Packet(type=Packet.PACKET_ERR, data=b"disk on fire").SerializeToString())
    with pytest.raises(ExportError) as caught:
        receive(tmp_path, stream)
    assert str(caught.value) == "error from buildkitd: disk on fire"


def test_early_end_is_reported(tmp_path: Path) -> None:
    stream = ScriptedStream([], {})
    send, stream.receive = anyio.create_memory_object_stream[bytes](1)
    send.send_nowait(aio.EOF)  # type: ignore[arg-type]
    with pytest.raises(ExportError) as caught:
        receive(tmp_path, stream)
    assert str(caught.value) == "buildkitd ended the output stream early"


class FixedStream:
    """Plays a fixed packet order, as fsutil's sender may produce it: its walk and its
    file senders share the stream, so a requested file's DATA can come between STATs.
    Like the sender, it holds a file's DATA back until that file is requested."""

    def __init__(self, packets: Sequence[types_pb2.Packet]) -> None:
        self.packets = list(packets)
        self.sent: list[types_pb2.Packet] = []
        self.requested: set[int] = set()
        self.request_arrived = anyio.Event()
        self.outstanding = 0
        self.most_outstanding = 0

    async def read(self) -> object:
        packet = self.packets.pop(0)
        if packet.type == Packet.PACKET_DATA:
            with anyio.fail_after(5):
                while packet.ID not in self.requested:
                    await self.request_arrived.wait()
                    self.request_arrived = anyio.Event()
            if not packet.data:
                self.outstanding -= 1
        await anyio.lowlevel.checkpoint()
        return packet.SerializeToString()

    async def write(self, raw: bytes) -> None:
        packet = Packet.FromString(raw)
        self.sent.append(packet)
        if packet.type == Packet.PACKET_REQ:
            self.requested.add(packet.ID)
            self.request_arrived.set()
            self.outstanding += 1
            self.most_outstanding = max(self.most_outstanding, self.outstanding)
        elif packet.type == Packet.PACKET_FIN:
            self.packets.append(Packet(type=Packet.PACKET_FIN))


def listed(s: types_pb2.Stat | None = None) -> types_pb2.Packet:
    return Packet(type=Packet.PACKET_STAT, stat=s) if s else Packet(type=Packet.PACKET_STAT)


def data(file_id: int, chunk: bytes = b"") -> types_pb2.Packet:
    return Packet(type=Packet.PACKET_DATA, ID=file_id, data=chunk)


def test_data_interleaved_with_the_listing(tmp_path: Path) -> None:
    stream = FixedStream(
        [
            listed(stat("d", GO_DIR | 0o755)),
            listed(stat("d/a", 0o644)),
            data(1, b"ab"),
            listed(stat("d/b", 0o600)),
            data(2, b"x"),
            data(1, b"cd"),
            listed(stat("h", 0o644, linkname="d/a")),  # d/a is still arriving
            data(2),
            listed(stat("z", 0o644)),
            data(1),
            listed(),
            data(4, b"last"),
            data(4),
        ]
    )
    receive(tmp_path, stream)  # type: ignore[arg-type]
    assert (tmp_path / "d" / "a").read_bytes() == b"abcd"
    assert (tmp_path / "d" / "b").read_bytes() == b"x"
    assert (tmp_path / "d" / "b").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "z").read_bytes() == b"last"
    assert (tmp_path / "h").stat().st_ino == (tmp_path / "d" / "a").stat().st_ino
    assert [(p.type, p.ID) for p in stream.sent] == [
        (Packet.PACKET_REQ, 1),
        (Packet.PACKET_REQ, 2),
        (Packet.PACKET_REQ, 4),
        (Packet.PACKET_FIN, 0),
    ]
    assert sorted(p.name for p in tmp_path.rglob("*.part")) == []


def test_all_data_before_the_listing_ends(tmp_path: Path) -> None:
    stream = FixedStream([listed(stat("f", 0o644)), data(0, b"early"), data(0), listed()])
    receive(tmp_path, stream)  # type: ignore[arg-type]
    assert (tmp_path / "f").read_bytes() == b"early"
    assert [p.type for p in stream.sent] == [Packet.PACKET_REQ, Packet.PACKET_FIN]


def test_requests_stay_bounded_while_data_interleaves(tmp_path: Path) -> None:
    # Data for each file comes only once the listing is 8 entries further on: requests
    # must be paced by completions, not by the listing.
    count = 40
    packets: list[types_pb2.Packet] = []
    for i in range(count):
        packets.append(listed(stat(f"f{i:02}", 0o644)))
        if i >= 8:
            packets += [data(i - 8, b"%d" % (i - 8)), data(i - 8)]
    packets.append(listed())
    for i in range(count - 8, count):
        packets += [data(i, b"%d" % i), data(i)]
    stream = FixedStream(packets)
    receive(tmp_path, stream)  # type: ignore[arg-type]
    assert stream.most_outstanding == 8
    assert [(tmp_path / f"f{i:02}").read_text() for i in range(count)] == [
        str(i) for i in range(count)
    ]


@pytest.mark.parametrize(
    ("packets", "message"),
    [
        (
            [listed(stat("f", 0o644)), listed(), listed(stat("late", 0o644))],
            "buildkitd sent an entry after the listing ended",
        ),
        (
            [listed(stat("f", 0o644)), data(0), data(0)],
            "buildkitd sent data for file id 0, never requested",
        ),
        (
            [listed(stat("f", 0o644)), Packet(type=Packet.PACKET_REQ, ID=0)],
            "unexpected packet type 1 from buildkitd",
        ),
    ],
)
def test_malformed_streams_are_refused(
    tmp_path: Path, packets: list[types_pb2.Packet], message: str
) -> None:
    with pytest.raises(ExportError) as caught:
        receive(tmp_path, FixedStream(packets))  # type: ignore[arg-type]
    assert str(caught.value) == message
    assert list(tmp_path.rglob("*.part")) == []
