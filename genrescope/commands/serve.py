"""The ``serve`` sub-command (the web server is imported only when it runs)."""

from __future__ import annotations


def add_serve_command(sub) -> None:
    """Add ``serve`` to ``sub`` (the parser's sub-parsers)."""
    p = sub.add_parser("serve", help="web page and REST API on http://127.0.0.1:7860")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--models-dir", metavar="DIR", help="official checkpoints / your bundles "
                   "(default $GENRESCOPE_MODELS or ./models)")
    p.add_argument("--model", metavar="NAME|DIR", help="model selected when the page opens")
    p.add_argument("--examples", metavar="DIR", help="folder of your own example clips")
    p.add_argument("--max-upload-mb", type=float, default=100.0, metavar="MB",
                   help="largest upload the API accepts (default 100)")
    p.add_argument("--save-dir", metavar="DIR",
                   help="keep uploads and results here (default: nothing is kept)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    p.add_argument("--db", metavar="LIBRARY.db",
                   help="a library built by `genrescope index`: adds /api/v1/library/ routes")
    p.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                   help="network precision (default auto, as for classify)")
    p.add_argument("--max-duration", type=float, default=600.0, metavar="S",
                   help="most seconds of audio one request may analyse (default 600)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer to this Host name (e.g. behind a reverse proxy); "
                        "repeatable. IP addresses and localhost are always accepted")
    p.set_defaults(run=cmd_serve)


def cmd_serve(args) -> int:
    from ..server.app import serve

    serve(host=args.host, port=args.port, models_dir=args.models_dir, model=args.model,
          examples_dir=args.examples, max_upload_mb=args.max_upload_mb,
          save_dir=args.save_dir, device=args.device, precision=args.precision,
          max_duration_s=args.max_duration, allow_hosts=args.allow_host, db=args.db)
    return 0
