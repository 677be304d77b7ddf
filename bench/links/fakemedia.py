"""Fake camera and microphone files, generated at run time (never committed).

The video is a Y4M clip of a moving, lit scene with sensor noise: harder to compress than
Chromium's built-in fake camera, closer to a webcam in a clinic. The audio is a WAV of known
content: voiced "syllables" of a 220 Hz harmonic tone, four a second, over faint noise.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def write_y4m(path: Path, width: int = 640, height: int = 360, fps: int = 20,
              seconds: float = 4.0, seed: int = 19) -> Path:  # fmt: skip
    """A 4:2:0 Y4M clip: a gradient that drifts, a head-sized ellipse that sways, noise."""
    rng = np.random.default_rng(seed)
    frames = int(fps * seconds)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            phase = 2 * np.pi * i / frames
            luma = 90 + 60 * np.sin(xx / width * 3 + phase) * np.cos(yy / height * 2)
            cx = width / 2 + width / 6 * np.sin(phase)
            cy = height / 2 + height / 12 * np.cos(2 * phase)
            head = ((xx - cx) / (width / 8)) ** 2 + ((yy - cy) / (height / 4)) ** 2 < 1
            luma = np.where(head, 170 + 20 * np.sin(yy / 7 + phase), luma)
            luma += rng.normal(0, 6, size=luma.shape)
            y = np.clip(luma, 16, 235).astype(np.uint8)
            cw, ch = width // 2, height // 2
            u = np.full((ch, cw), 120, np.float32) + 20 * np.sin(phase + xx[:ch, :cw] / 40)
            v = np.full((ch, cw), 140, np.float32) + rng.normal(0, 3, size=(ch, cw))
            out.write(b"FRAME\n")
            out.write(y.tobytes())
            out.write(np.clip(u, 16, 240).astype(np.uint8).tobytes())
            out.write(np.clip(v, 16, 240).astype(np.uint8).tobytes())
    return path


def write_wav(path: Path, seconds: float = 10.0, rate: int = 48000) -> Path:
    """Mono 16-bit WAV: four voiced syllables a second (220 Hz and harmonics) over noise."""
    rng = np.random.default_rng(19)
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in (1, 2, 3, 4))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    signal = 0.25 * voice * envelope + rng.normal(0, 0.01, size=t.shape)
    pcm = np.clip(signal * 32767, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path
