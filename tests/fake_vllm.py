"""A stand-in for ``vllm serve`` in the launcher's tests: vLLM's command line in front of the
scripted mock LLM. ``FAKE_VLLM=fail`` exits while starting, ``FAKE_VLLM=hang`` never answers;
``FAKE_VLLM_RECORD`` names a folder where each replica writes its arguments and GPU."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import orjson

from tool_mocks.llm import MockLlmConfig, serve_mock_llm


async def _serve(args: argparse.Namespace) -> None:
    config = MockLlmConfig(host=args.host, port=args.port, model=args.served_model_name)
    async with serve_mock_llm(config):
        print(f"INFO: Uvicorn running on http://{args.host}:{args.port}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("verb", choices=["serve"])
    parser.add_argument("model")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--served-model-name")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    parser.add_argument("--enable-prefix-caching", action="store_true")
    parser.add_argument("--max-num-seqs", type=int)
    args, extra = parser.parse_known_args()
    args.served_model_name = args.served_model_name or args.model
    record = os.environ.get("FAKE_VLLM_RECORD")
    if record:
        Path(record, f"{args.port}.json").write_bytes(orjson.dumps({
            "argv": sys.argv[1:], "extra": extra, "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "gpu_memory": args.gpu_memory_utilization, "pid": os.getpid(),
        }))
    print(f"INFO: loading {args.model}", flush=True)
    mode = os.environ.get("FAKE_VLLM", "")
    if mode == "fail":
        print("ERROR: CUDA out of memory while loading the weights", flush=True)
        sys.exit(3)
    if mode == "hang":
        print("INFO: compiling graphs", flush=True)
        asyncio.run(asyncio.Event().wait())
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
