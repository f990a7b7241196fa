"""`hf://owner/dataset[/file]` data paths: downloaded once, through huggingface_hub, to its cache.

Nothing is downloaded unless a user names such a path; without the package or a network the
error is one line that says how to fetch the file by hand.
"""

HF_PREFIX = "hf://"


def resolve_hub_path(data: str, default_file: str, error: type[Exception] = ValueError,
                     example: str = "hf://sapientinc/sudoku-extreme") -> str:  # fmt: skip
    """A local path for `data`: the path itself, or hf://owner/dataset[/file] (`default_file` when no file is named)
    downloaded once. Any failure is `error` with a one-line message naming `data`."""
    if not data.startswith(HF_PREFIX):
        return data
    parts = data[len(HF_PREFIX):].strip("/").split("/")
    if len(parts) < 2 or not all(parts):
        raise error(f"{data}: expected hf://<owner>/<dataset>[/<file>], e.g. {example}")
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:]) or default_file
    manual = f"or download {filename} from https://huggingface.co/datasets/{repo} and pass its path"
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise error(f"{data}: reading hf:// needs the huggingface_hub package (pip install huggingface_hub)"
                    f" and network; {manual}") from None
    try:
        return hf_hub_download(repo_id=repo, filename=filename, repo_type="dataset")
    except Exception as err:  # network, missing file, authentication: all one line for the user
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise error(f"{data}: download failed ({reason}); {manual}") from None
