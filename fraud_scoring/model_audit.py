"""What a model file may be: data, never a program or a pointer. Checked before any weight is read.

A model file comes from whoever registered it (or, in tests and on a superuser's
disk, from a file): the scorer treats it as untrusted. HDF5 can make a dataset's
bytes live elsewhere (external storage: any file the server can read; virtual
datasets; external and soft links), and a filter such as gzip can make a small file
declare gigabytes. So, before any dataset is read, every object of the file is
walked and anything outside the accepted subset below is refused, naming what was
found. The same audit runs where the scorer reads a model (the reader child, the
Keras worker) and where `python -m warehouse register` accepts one.

The accepted subset (one statement of it; docs/security.md repeats it for people):

- the file: an HDF5 file of at most MAX_MODEL_FILE_BYTES, a Keras Sequential model;
- its objects: at most MAX_OBJECTS groups and datasets, reached by hard links only
  (no soft or external links, no committed datatypes);
- each dataset: contiguous or chunked storage inside the file, no filters at all
  (Keras writes none), dtype float32 (little- or big-endian), at most 2 dimensions,
  each dimension at most MAX_DIMENSION, and no more bytes declared than it stores;
- all datasets together: at most MAX_WEIGHT_BYTES declared, and no more than the file
  holds;
- layers (numpy runtime, and registration): InputLayer, Dense, Dropout; activations:
  those of fraud_scoring.network.ACTIVATIONS (see h5_reader.read_dense_layers);
- metadata: a threshold, when given, a finite number strictly between 0 and 1
  (checked_threshold);
- a Keras 3 `.keras` file (registration only, warehouse.registry): a zip of exactly
  KERAS_MEMBERS, at most MAX_MODEL_FILE_BYTES unpacked, its config's layers among
  ACCEPTED_LAYERS, its weights file under the same audit (plus the optimizer's int64
  step counter), loaded by Keras with safe_mode=True and stored in the registry as the
  .h5 the scorer reads.
"""

from __future__ import annotations

MAX_MODEL_FILE_BYTES = 32 << 20  # a 2017 network is ~100 KB
MAX_WEIGHT_BYTES = 32 << 20  # all datasets' declared bytes together
MAX_DIMENSION = 1 << 16  # units or inputs of one layer
MAX_OBJECTS = 4096  # groups and datasets (a hard link loop would never end)
ACCEPTED_DTYPES = ("<f4", ">f4")
ACCEPTED_LAYERS = ("InputLayer", "Dense", "Dropout")
KERAS_MEMBERS = ("metadata.json", "config.json", "model.weights.h5")


class ModelFileRefused(ValueError):
    """A model file outside the accepted subset (worded for the person who supplied it)."""


def check_model_size(size: int) -> None:
    if size > MAX_MODEL_FILE_BYTES:
        raise ModelFileRefused(
            f"the model file is {size} bytes, over the limit of {MAX_MODEL_FILE_BYTES} bytes "
            f"({MAX_MODEL_FILE_BYTES >> 20} MiB)"
        )


def audit_h5(f, file_size: int, dtypes: tuple[str, ...] = ACCEPTED_DTYPES) -> None:
    """Refuse an open h5py.File holding anything but plain, in-file, unfiltered float32 datasets.

    Walks every link from the root without following any but hard links, and inspects each
    dataset's creation properties (never its data). dtypes: those accepted (a .keras file's
    weights also hold its optimizer's int64 step counter, never read).
    """
    import h5py

    check_model_size(file_size)
    declared = 0
    objects = 0
    pending = [("/", f)]
    while pending:
        path, group = pending.pop()
        objects += 1
        if objects > MAX_OBJECTS:
            raise ModelFileRefused(f"the model file holds over {MAX_OBJECTS} objects (a link loop?): refused")
        for name in group.id:  # link names, resolved one by one below
            name = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
            where = path.rstrip("/") + "/" + name
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise ModelFileRefused(
                    f"the model file holds an external link at {where} (to {link.filename}:{link.path}): refused"
                )
            if isinstance(link, h5py.SoftLink):
                raise ModelFileRefused(f"the model file holds a soft link at {where} (to {link.path}): refused")
            if not isinstance(link, h5py.HardLink):
                raise ModelFileRefused(f"the model file holds a link of an unknown kind at {where}: refused")
            obj = group[name]
            if isinstance(obj, h5py.Group):
                pending.append((where, obj))
            elif isinstance(obj, h5py.Dataset):
                objects += 1
                declared += _audit_dataset(where, obj, dtypes)
                if declared > MAX_WEIGHT_BYTES:
                    raise ModelFileRefused(
                        f"the model file's datasets declare over {MAX_WEIGHT_BYTES} bytes "
                        f"({MAX_WEIGHT_BYTES >> 20} MiB) of weights (at {where}): refused"
                    )
            else:
                raise ModelFileRefused(f"the model file holds a {type(obj).__name__} at {where}: refused")
    if declared > file_size:
        raise ModelFileRefused(
            f"the model file's datasets declare {declared} bytes, more than the file's {file_size}: refused"
        )


def _audit_dataset(where: str, ds, dtypes: tuple[str, ...]) -> int:
    """The bytes a dataset declares, once it is known to be plain data inside the file."""
    from h5py import h5d

    dcpl = ds.id.get_create_plist()
    if dcpl.get_external_count() > 0:
        name = dcpl.get_external(0)[0]
        name = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
        raise ModelFileRefused(f"dataset {where} has external storage (in {name!r}): refused")
    layout = dcpl.get_layout()
    if getattr(ds, "is_virtual", False) or layout not in (h5d.CONTIGUOUS, h5d.CHUNKED, h5d.COMPACT):
        raise ModelFileRefused(f"dataset {where} is a virtual dataset (or of an unknown layout {layout}): refused")
    filters = [dcpl.get_filter(i) for i in range(dcpl.get_nfilters())]
    if filters:
        names = ", ".join(
            (name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)) or f"filter {code}"
            for code, _, _, name in filters
        )
        raise ModelFileRefused(f"dataset {where} is stored through filters ({names}): only unfiltered data is accepted")
    if ds.dtype.str not in dtypes:
        raise ModelFileRefused(f"dataset {where} has dtype {ds.dtype}: only float32 is accepted")
    if len(ds.shape) > 2 or any(d > MAX_DIMENSION for d in ds.shape):
        raise ModelFileRefused(
            f"dataset {where} has shape {ds.shape}: at most 2 dimensions of at most {MAX_DIMENSION} are accepted"
        )
    size = ds.dtype.itemsize
    for d in ds.shape:
        size *= d
    stored = ds.id.get_storage_size()
    if size > stored:
        raise ModelFileRefused(
            f"dataset {where} declares {size} bytes but stores {stored}: a dataset must hold its own data"
        )
    return size


def checked_threshold(value, what: str = "threshold") -> float:
    """A decision threshold: a finite number strictly between 0 and 1 (not a string, not NaN or
    infinite, not 0 or 1), else ModelFileRefused naming `what` and the value. The macros' check
    (fraud_checked_threshold) is the same."""
    import math

    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelFileRefused(f"{what} must be a number strictly between 0 and 1, got {value!r}")
    if not math.isfinite(value) or not 0 < value < 1:
        raise ModelFileRefused(f"{what} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)
