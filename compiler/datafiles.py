"""Reading data files: .npz archives, .npy arrays, CSV text and MNIST-style IDX files (each
optionally gzip-compressed). Never unpickles. Paths are relative to the spec.

A data file is untrusted: only regular files are read, no file or decompressed stream may exceed
``MAX_BYTES``, the sizes a header declares are checked against the file before anything is
allocated, and messages name the file and the place, never its contents.

The compiler reads them for the widths of data.x and data.y, the runtime for the arrays."""
from __future__ import annotations

import gzip
import io
import os
import stat
import zipfile

import numpy as np

#: The largest data file (or decompressed stream, or array in an archive) ngdsl reads.
MAX_BYTES = 4 << 30
#: The most classes integer labels may name (they become one-hot columns).
MAX_CLASSES = 10_000


class UnreadableData(ValueError):
    """A data file that cannot be used as the spec says; ``key`` is the data parameter naming it."""

    def __init__(self, key, message):
        super().__init__(message)
        self.key = key


#: IDX type code -> big-endian numpy dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open_regular(path):
    """A binary file object for ``path``, which must be a regular file of at most MAX_BYTES
    (checked before opening: opening a FIFO or a device could block or never end)."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
        why = "not a regular file" if not stat.S_ISREG(info.st_mode) else f"larger than {MAX_BYTES >> 30} GiB"
        raise ValueError(f"'{os.path.basename(path)}' is {why}")
    return open(path, "rb")


def _raw(path):
    with _open_regular(path) as f:
        data = f.read()
    if data[:2] != b"\x1f\x8b":
        return data
    out, total = [], 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while chunk := stream.read(1 << 24):
                total += len(chunk)
                if total > MAX_BYTES:
                    raise ValueError(f"'{os.path.basename(path)}' decompresses to more than {MAX_BYTES >> 30} GiB")
                out.append(chunk)
    except (OSError, EOFError, zipfile.BadZipFile):
        raise ValueError(f"'{os.path.basename(path)}' is a damaged or truncated gzip file") from None
    return b"".join(out)


def _idx(data, name):
    if len(data) < 4 or data[0] or data[1] or data[2] not in _IDX_TYPES or not data[3]:
        return None
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    start, count = 4 + 4 * ndim, int(np.prod(shape, dtype=np.int64))
    if len(data) != start + count * dtype.itemsize:
        raise ValueError(f"'{name}' is an IDX file of shape {shape} but holds {len(data) - start} bytes of data "
                         f"instead of {count * dtype.itemsize}")
    return np.frombuffer(data, dtype, count, start).reshape(shape).astype(dtype.newbyteorder("="))


def _csv(data, name):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"'{name}' is not a .npy, MNIST IDX or CSV file") from None
    lines = [line for line in text.splitlines() if line.strip()]
    rows = [line.split(",") for line in lines]
    try:
        float(rows[0][0])
    except (ValueError, IndexError):
        rows = rows[1:]   # a header
    if not rows or any(len(r) != len(rows[0]) for r in rows):
        raise ValueError(f"'{name}' is not a CSV file of numbers with the same number of columns on every line")
    values = np.empty((len(rows), len(rows[0])))
    header = len(lines) - len(rows)
    for i, row in enumerate(rows):
        try:
            values[i] = [float(v) for v in row]
        except ValueError:   # the cell itself is not quoted: a data file may hold anything
            raise ValueError(f"'{name}' has a value that is not a number on non-empty line {header + i + 1}") from None
    whole = np.all(values == np.round(values))
    return values.astype(np.int64) if whole and values.shape[1] == 1 else values


def read_array(path, base_dir):
    """One array from a .npy, IDX or CSV file (gzip allowed), recognised by its content."""
    data = _raw(os.path.join(base_dir, path))
    if data[:6] == b"\x93NUMPY":
        return np.load(io.BytesIO(data), allow_pickle=False)   # np.load checks the header against the size
    array = _idx(data, path)
    return array if array is not None else _csv(data, path)


def _numbers(array, name):
    """``array`` if it holds plain numbers and at least one example."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"'{name}' holds {array.dtype} values, not plain numbers")
    if array.ndim == 0 or len(array) == 0:
        raise ValueError(f"'{name}' holds no examples")
    return array


def _is_pixels(x):
    """Whole numbers from 0 to 255 reaching above 1: 8-bit pixels, whatever type they were stored as."""
    if x.dtype == np.uint8:
        return True
    with np.errstate(invalid="ignore"):
        whole = x.dtype.kind in "iu" or np.all(x == np.round(x))
        return bool(whole and x.min() >= 0 and 1 < x.max() <= 255)


def examples(x, y, x_name, y_name):
    """(x, y) as float arrays with an example per row: x keeps each example's shape (an image
    stays 2-D), uint8 pixels scaled to [0, 1]; integer labels one-hot; a missing y zeros."""
    x = _numbers(x, x_name)
    scale = 1.0 / 255.0 if _is_pixels(x) else 1.0
    x = (x.reshape(len(x), 1) if x.ndim == 1 else x).astype(float)
    x *= scale                                     # in place: no second copy of a large set
    if y is None:
        return x, np.zeros((len(x), 1))
    y = _numbers(y, y_name)
    if len(y) != len(x):
        raise ValueError(f"'{x_name}' has {len(x)} examples but '{y_name}' has {len(y)}")
    if np.issubdtype(y.dtype, np.integer) and (y.ndim == 1 or y.shape[1:] == (1,)):
        labels = y.reshape(-1)
        if labels.min() < 0:
            raise ValueError(f"'{y_name}' has a negative class label ({labels.min()})")
        if labels.max() >= MAX_CLASSES:
            raise ValueError(f"'{y_name}' has class label {labels.max()}; labels run from 0 to at most "
                             f"{MAX_CLASSES - 1}")
        y = np.zeros((len(labels), int(labels.max()) + 1))
        y[np.arange(len(labels)), labels] = 1.0
    return x, y.reshape(len(y), -1).astype(float)


def _reason(exc, name):
    """Why a file could not be read: our own messages as they are, anything else by kind only
    (a library's message may quote the file's contents)."""
    if isinstance(exc, OSError):
        return f"'{name}': {exc.strerror or 'cannot be read'}"
    if isinstance(exc, ValueError) and str(exc).startswith("'"):
        return str(exc)
    if "allow_pickle" in str(exc):
        return f"'{name}' holds Python objects (a pickle), which ngdsl never loads"
    return f"'{name}' is damaged, truncated or not in a format ngdsl reads"


def read_npz(params, base_dir):
    """(x, y) of the ``npz`` dataset: arrays ``params['x']`` and ``params['y']`` of one archive."""
    path, names = params["path"], [params["x"], params.get("y")]
    try:
        with _open_regular(os.path.join(base_dir, path)) as f, np.load(f, allow_pickle=False) as arrays:
            for key in filter(None, names):
                if key not in arrays.files:
                    raise UnreadableData("path", f"cannot read the data: '{path}' has no array '{key}' "
                                                 f"(it has {', '.join(arrays.files[:10])})")
                if arrays.zip.getinfo(f"{key}.npy").file_size > MAX_BYTES:
                    raise ValueError(f"'{path}' array '{key}' is larger than {MAX_BYTES >> 30} GiB")
            x, y = (arrays[key] if key else None for key in names)
        return examples(x, y, f"{path}:{names[0]}", f"{path}:{names[1]}")
    except UnreadableData:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError) as exc:
        # AttributeError: np.load found a lone .npy where an archive was expected
        raise UnreadableData("path", f"cannot read the data: {_reason(exc, path)}") from None


def read_files(params, base_dir):
    """(x, y) of the ``files`` dataset: one file of inputs, one (optional) of targets or labels."""
    arrays = {}
    for key in ("x", "y"):
        if params.get(key) is None:
            arrays[key] = None
            continue
        try:
            arrays[key] = read_array(params[key], base_dir)
        except (OSError, ValueError, EOFError) as exc:
            raise UnreadableData(key, f"cannot read the data: {_reason(exc, params[key])}") from None
    try:
        return examples(arrays["x"], arrays["y"], params["x"], params.get("y"))
    except ValueError as exc:
        raise UnreadableData("y" if params.get("y") else "x", f"cannot use the data: {exc}") from None


def read_csv(params, base_dir):
    """(x, y) of the ``csv`` dataset: one table, the ``label`` column (if any) holding the targets."""
    try:
        table = _numbers(read_array(params["path"], base_dir), params["path"])
    except (OSError, ValueError, EOFError) as exc:
        raise UnreadableData("path", f"cannot read the data: {_reason(exc, params['path'])}") from None
    table = np.asarray(table, dtype=float).reshape(len(table), -1)
    label = params["label"]
    if label is None:
        return table, np.zeros((len(table), 1))
    columns = table.shape[1]
    if not -columns <= label < columns or columns < 2:
        raise UnreadableData("label", f"'{params['path']}' has {columns} column(s); there is no label column {label}")
    labels = table[:, label]
    x = np.delete(table, label % columns, axis=1)
    whole = np.all(labels == np.round(labels)) and labels.min() >= 0
    y = labels.astype(np.int64) if whole else labels[:, None]
    return examples(x, y, params["path"], f"column {label}")
