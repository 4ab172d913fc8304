"""Atomic writes: a temp file in the same folder, then os.replace. Nothing half-written survives.

Reads name the file they failed on, and each file's size and SHA-256 (``file_record``) let a caller
check that an artifact is the one it wrote.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent runs are then the user's to avoid
    fcntl = None


_UMASK = os.umask(0)
os.umask(_UMASK)


def _atomic(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_torch(obj: Any, path: Path) -> Path:
    return _atomic(path, lambda f: torch.save(obj, f))


def save_json(obj: Any, path: Path) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=True, default=_jsonable).encode()
    return _atomic(path, lambda f: f.write(text + b"\n"))


def copy(src: Path, dst: Path) -> Path:
    """Copy ``src`` to ``dst`` atomically (a unique temp name, so concurrent copies cannot collide)."""
    with open(src, "rb") as f_src:
        return _atomic(dst, lambda f: shutil.copyfileobj(f_src, f, 1 << 20))


def load_json(path: Path, fix: str = "restore it or remove it and rerun what wrote it") -> Any:
    """The JSON in ``path``; a damaged file raises ``ValueError`` naming the path and ``fix``."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err.msg} at line {err.lineno} column "
                         f"{err.colno}; {path.stat().st_size} bytes); {fix}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file (JSON expected); {fix}") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory, expected a JSON file; {fix}") from None


# (path, size, mtime_ns) -> digest: a file already hashed in this process is not read again
_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_record(path: Path) -> dict:
    """``{"bytes": size, "sha256": hex digest}`` of a file (what a level's manifest records)."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return {"bytes": st.st_size, "sha256": _DIGESTS[key]}


def _jsonable(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


# Locks this process holds, by path: a nested request for the same folder is not a deadlock.
_HELD: dict[str, int] = {}


@contextlib.contextmanager
def folder_lock(folder: Path, what: str = "run"):
    """Hold an advisory ``fcntl.flock`` on ``folder/.lock`` (created) for the block.

    A second process asking for the same folder says once, on stderr, who holds it (pid, host,
    since when), then waits for it; the holder's work is then on disk for it to reuse. Re-entrant
    within one process. The lock is released when the holder exits, even when it is killed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".lock"
    key = str(path.resolve())
    if fcntl is None or key in _HELD:
        _HELD.setdefault(key, 0)
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
            if not _HELD[key]:
                del _HELD[key]
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            print(f"uticket: waiting for {what} {folder} (locked by {holder})", file=sys.stderr,
                  flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the flock
