"""Datasets for kvt: CIFAR-10 from Keras, local CIFAR archives, image folders, a bundled sample.

``load_dataset(spec)`` turns what a user typed after ``--data`` into a
:class:`Dataset` of uint8 images shaped ``(N, 32, 32, 3)`` and int64 labels:

- ``"cifar10"`` (the default): ``keras.datasets.cifar10.load_data()``, which
  downloads once into Keras's own cache (``~/.keras/datasets``).
- ``"sample"``: the bundled subset ``kvt_models/sample/cifar10-sample.tar.gz``
  (500 train and 100 test images per class). A local folder that happens to
  be called ``sample`` is reached as ``./sample``.
- a local path: a folder, or a ``.tar`` / ``.tar.gz`` / ``.tgz`` archive of one,
  holding the CIFAR-10 python batches (``data_batch_1..5``, ``test_batch``,
  ``batches.meta``), an image folder (``train/<class>/*`` and
  ``test/<class>/*``, or ``val/`` for ``test/``), or a folder of class folders
  with no split (``<class>/*``; a fixed 20% of each class becomes the test
  set), possibly inside a single top folder.

Local data is decoded once and cached as an uncompressed ``.npz`` in the cache
folder (``$KVT_CACHE_DIR``, else ``~/.cache/kvt``), keyed by the archive's
sha256 or the folder's file list, so the second load takes a second or two.

Files from users are data, never code:

- CIFAR batches are pickles. They go through a restricted unpickler that only
  admits the few numpy names a batch needs; ``pickle.load`` is never called on
  a user's file (``cifar_pickle.py``).
- Archives are read member by member with ``tarfile``'s ``data`` filter
  applied to every member: one unsafe member (``../`` paths, absolute paths,
  links pointing out, devices) rejects the whole archive. Nothing is written
  to disk (``archive.py``).

Every problem a user can cause surfaces as a one-line :class:`DataError`.
The package imports numpy only; Pillow and Keras are imported inside the
functions that need them (Keras costs seconds and hundreds of MB).

One module per part, in the order a load goes through them:

- ``loader.py``: the spec, :func:`load_dataset`, :func:`describe_spec`
- ``keras_cifar10.py``: the Keras download
- ``tree.py``: a dataset root's files and folders; listing a folder
- ``archive.py``: reading a tar archive safely (security code)
- ``layouts.py``: which layout a tree holds, and its train and test files
- ``cifar_pickle.py``: the restricted unpickler (security code)
- ``decode.py``: CIFAR batches and image files to arrays
- ``cache.py``: the decoded-array cache
- ``subsets.py``: train and test limits
- ``dataset.py`` and ``messages.py``: what they all share
"""
