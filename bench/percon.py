#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The benchmark's "per-connection" server: one aiortc (Debian python3-aiortc)
# RTCPeerConnection per viewer, each with its own VP8 encoder, all fed from one
# shared frame source (bench/pattern-pipe: the project's stamped test pattern
# as raw I420).  This is the design where every connection subscribes to the
# camera and encodes for itself.
#
#   percon.py --listen IP --port N --pattern PATH [--width W --height H --fps F]
#             [--bitrate BPS] [--seconds S]
#
# Signalling, the smallest that works (aiortc does not trickle):
#   POST /offer   body {"type":"offer","sdp":...}  ->  {"type":"answer","sdp":...,"id":N}
#   POST /close?id=N    closes that connection;  POST /reset  closes all
#   GET  /stats         {"connections": N}
# Bodies may be sent as text/plain (a CORS "simple" request, so the benchmark
# page needs no preflight); answers carry Access-Control-Allow-Origin: *.
#
# Stops on its own after --seconds (default 3600), and when the pattern pipe
# ends.

import argparse
import asyncio
import json
import logging
import signal
import sys
from fractions import Fraction
from urllib.parse import urlsplit, parse_qs

import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.codecs import vpx
from av import VideoFrame


class Source:
    """Reads frames from the pattern pipe and hands the newest to every
    subscriber; a subscriber that is still encoding the previous frame skips
    to the newest (no queue builds up between capture and encoder, as in the
    other two servers)."""

    def __init__(self, width, height, fps):
        self.width, self.height, self.fps = width, height, fps
        self.subscribers = set()
        self.frames = 0

    async def run(self, proc):
        size = self.width * self.height * 3 // 2
        while True:
            try:
                buf = await proc.stdout.readexactly(size)
            except asyncio.IncompleteReadError:
                logging.error('pattern pipe ended')
                return
            arr = np.frombuffer(buf, np.uint8).reshape(self.height * 3 // 2, self.width)
            frame = VideoFrame.from_ndarray(arr, format='yuv420p')
            # RTP clock: 90 kHz, one frame every 90000/fps ticks.
            frame.pts = self.frames * (90000 // self.fps)
            frame.time_base = Fraction(1, 90000)
            self.frames += 1
            for q in list(self.subscribers):
                if q.full():
                    q.get_nowait()
                q.put_nowait(frame)


class SharedTrack(VideoStreamTrack):
    """One connection's view of the shared source; its sender encodes it."""

    def __init__(self, source):
        super().__init__()
        self.source = source
        self.queue = asyncio.Queue(maxsize=1)
        source.subscribers.add(self.queue)

    async def recv(self):
        return await self.queue.get()

    def stop(self):
        self.source.subscribers.discard(self.queue)
        super().stop()


class Server:
    def __init__(self, source):
        self.source = source
        self.pcs = {}
        self.next_id = 1

    async def close(self, cid):
        entry = self.pcs.pop(cid, None)
        if entry:
            pc, track = entry
            track.stop()
            await pc.close()

    async def offer(self, body):
        desc = json.loads(body)
        pc = RTCPeerConnection()
        track = SharedTrack(self.source)
        cid = self.next_id
        self.next_id += 1
        self.pcs[cid] = (pc, track)

        @pc.on('connectionstatechange')
        async def on_state():
            if pc.connectionState in ('failed', 'closed'):
                await self.close(cid)

        pc.addTrack(track)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=desc['sdp'], type=desc['type']))
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)  # gathers all candidates
        return {'type': pc.localDescription.type, 'sdp': pc.localDescription.sdp, 'id': cid}

    async def handle(self, reader, writer):
        try:
            head = await asyncio.wait_for(reader.readuntil(b'\r\n\r\n'), 10)
            lines = head.decode('latin-1').split('\r\n')
            method, target, _ = lines[0].split(' ', 2)
            headers = {}
            for ln in lines[1:]:
                if ':' in ln:
                    k, v = ln.split(':', 1)
                    headers[k.strip().lower()] = v.strip()
            n = int(headers.get('content-length', '0'))
            if n > 1 << 20:
                raise ValueError('body too large')
            body = await asyncio.wait_for(reader.readexactly(n), 10) if n else b''
            url = urlsplit(target)
            status, out = 200, {}
            if method == 'OPTIONS':
                out = None
            elif method == 'POST' and url.path == '/offer':
                out = await asyncio.wait_for(self.offer(body), 20)
            elif method == 'POST' and url.path == '/close':
                await self.close(int(parse_qs(url.query).get('id', ['0'])[0]))
            elif method == 'POST' and url.path == '/reset':
                for cid in list(self.pcs):
                    await self.close(cid)
            elif method == 'GET' and url.path == '/stats':
                out = {'connections': len(self.pcs), 'frames': self.source.frames}
            else:
                status, out = 404, {'error': 'not found'}
        except Exception as e:  # a bad request gets an answer, never a hang
            logging.exception('request failed')
            status, out = 500, {'error': str(e)}
        data = b'' if out is None else json.dumps(out).encode()
        writer.write((f'HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n'
                      f'Content-Length: {len(data)}\r\nAccess-Control-Allow-Origin: *\r\n'
                      'Access-Control-Allow-Methods: POST, GET, OPTIONS\r\n'
                      'Access-Control-Allow-Headers: content-type\r\nConnection: close\r\n\r\n').encode() + data)
        try:
            await writer.drain()
        finally:
            writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--listen', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=8090)
    ap.add_argument('--pattern', required=True)
    ap.add_argument('--width', type=int, default=640)
    ap.add_argument('--height', type=int, default=480)
    ap.add_argument('--fps', type=int, default=30)
    ap.add_argument('--bitrate', type=int, default=1000000)
    ap.add_argument('--seconds', type=int, default=3600)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format='%(asctime)s %(levelname)s %(message)s')

    # aiortc starts at 500 kbit/s and follows the receiver's REMB between
    # 250 kbit/s and 1.5 Mbit/s; pin it to the benchmark's 1 Mbit/s so that
    # every server encodes the same bitrate.
    vpx.DEFAULT_BITRATE = vpx.MIN_BITRATE = vpx.MAX_BITRATE = a.bitrate

    proc = await asyncio.create_subprocess_exec(
        a.pattern, str(a.width), str(a.height), str(a.fps), str(a.seconds),
        stdout=asyncio.subprocess.PIPE)
    source = Source(a.width, a.height, a.fps)
    server = Server(source)
    http = await asyncio.start_server(server.handle, a.listen, a.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reader = asyncio.create_task(source.run(proc))
    print(f'percon: listening on http://{a.listen}:{a.port}', flush=True)
    done, _ = await asyncio.wait(
        [asyncio.create_task(stop.wait()), reader, asyncio.create_task(asyncio.sleep(a.seconds))],
        return_when=asyncio.FIRST_COMPLETED)
    http.close()
    for cid in list(server.pcs):
        await server.close(cid)
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


if __name__ == '__main__':
    asyncio.run(main())
    sys.exit(0)
