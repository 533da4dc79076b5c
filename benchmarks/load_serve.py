"""Load test of ``twplate serve`` on loopback: concurrent clients sending real val crops, against the library.

Usage: python benchmarks/load_serve.py [--clients 1,8,32,128] [--requests 600] [--rounds 5]
       [--max-seconds 120] [--soak-minutes 0] [--out benchmarks/results/serve]

A real server (``python -m twplate serve`` on a free 127.0.0.1 port) is started with the shipped
model. For each client count, that many clients (one keep-alive connection each) send one crop per
request (multipart field ``image``) until ``--requests`` requests or ``--max-seconds`` have passed;
every answer is checked against :class:`PlateRecognizer` reading the same crop alone. Reported:
requests/s, images/s, latency percentiles, errors, differing answers and the server's RSS after each level.

By the model's width policy (by aspect) a batch is zero-padded to its widest crop and the SVTR neck
attends over the padding, so a borderline crop can read differently in a batch than alone, in the
library as in the service: the direct library run of the comparison is checked the same way, so
the two counts can be compared. With ``--input-width W`` no crop is padded and every answer must
equal the library's exactly (text, and confidences within 1e-6).

Then the ratio the issue asks for, round-robin (``benchdata.round_robin``) so that a busy spell of
the shared machine hits both alike: the service at 32 clients against ``PlateRecognizer`` called
directly at batch 32 on the same encoded crops (the library decodes them too), ``--rounds`` times,
two ways: the whole round in one call (the library groups every crop of one width into full batches),
and 32 crops a call, which is what 32 one-crop requests hand the model at a time: a batch holds crops
of one width only, so 32 crops of mixed widths become several smaller model calls either way.

``--soak-minutes M`` instead runs a moderate load (8 clients, each pausing 20 ms between requests)
for M minutes, samples the server's RSS every 30 s, and checks every answer (run it with
``--input-width 72`` for answers that must be exactly the library's).

The clients speak HTTP/1.1 over asyncio streams with each request's bytes built beforehand, so that
the load generator, which shares the machine's cores with the server, costs as little CPU as it can.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import benchdata  # noqa: E402

from serving import Server  # noqa: E402
from twplate import PlateRecognizer  # noqa: E402

BOUNDARY = "twplate-load-boundary"
DIRECT_BATCH = 32
SERVICE_CASE = "service, 32 clients"
LIBRARY_ONE_CALL = f"PlateRecognizer, batch {DIRECT_BATCH}, one call"
LIBRARY_CALLS_OF_32 = f"PlateRecognizer, batch {DIRECT_BATCH}, calls of {DIRECT_BATCH} crops"
EXACT = 1e-6
"""Largest confidence difference counted as equal when no crop is padded (``--input-width``)."""


@dataclass
class Crops:
    """Real val crops as encoded bytes, each one's multipart request, and the library's reading of it alone."""

    data: list[bytes]
    requests: list[bytes]
    texts: list[str]
    confidences: list[float]
    source: str
    exact: bool  # every crop read at one width: an answer must equal the reading alone


def load_crops(port: int, input_width: int | None) -> Crops:
    tsv = benchdata.data_root() / "real" / "val.tsv"
    if not tsv.is_file():
        raise SystemExit(f"real val crops not found at {tsv} (set TWPLATE_DATA)")
    rows = [line.split("\t") for line in tsv.read_text(encoding="utf-8").splitlines() if line.strip()]
    data = [(tsv.parent / path).read_bytes() for path, _ in rows]
    reader = PlateRecognizer(backend="onnxruntime", batch_size=1, input_width=input_width)
    alone = [reader(d) for d in data]
    return Crops(data, [multipart_request(port, d) for d in data], [r.text for r in alone],
                 [r.confidence for r in alone], f"real val ({tsv}, {len(data)} crops)", input_width is not None)


def multipart_request(port: int, image: bytes) -> bytes:
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"crop.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + image + f"\r\n--{BOUNDARY}--\r\n".encode()
    head = (f"POST /v1/read HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: multipart/form-data; "
            f"boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    return head + body


@dataclass
class Tally:
    """What a load level saw."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wrong: int = 0
    examples: list[str] = field(default_factory=list)
    max_confidence_gap: float = 0.0

    def check(self, crops: Crops, index: int, status: int, body: bytes) -> None:
        if status != 200:
            self.errors.append(f"HTTP {status}: {body[:200]!r}")
            return
        (result,) = json.loads(body)["results"]
        if "error" in result:
            self.errors.append(result["error"])
        else:
            self.compare(crops, index, result["text"], result["confidence"])

    def compare(self, crops: Crops, index: int, text: str, confidence: float) -> None:
        """Count a reading that differs from the crop's reading alone (text; confidence too where exact)."""
        gap = abs(confidence - crops.confidences[index])
        if text != crops.texts[index] or (crops.exact and gap > EXACT):
            self.wrong += 1
            self.examples.append(f"crop {index}: {text} ({confidence:.3f}), alone {crops.texts[index]} "
                                 f"({crops.confidences[index]:.3f})")
        else:
            self.max_confidence_gap = max(self.max_confidence_gap, gap)


async def _one_client(port: int, crops: Crops, next_index, tally: Tally, deadline: float, pause: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (index := next_index()) is not None and time.monotonic() < deadline:
            crop = index % len(crops.data)
            start = time.perf_counter()
            writer.write(crops.requests[crop])
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            body = await reader.readexactly(length)
            tally.latencies.append(time.perf_counter() - start)
            tally.check(crops, crop, status, body)
            if pause:
                await asyncio.sleep(pause)
    finally:
        writer.close()


def run_clients(port: int, crops: Crops, clients: int, requests: int | None, seconds: float,
                pause: float = 0.0, offset: int = 0) -> tuple[Tally, float]:
    """``clients`` concurrent clients sending ``requests`` crops (or until ``seconds``); the tally and wall time."""
    counter = iter(range(offset, offset + requests) if requests is not None else _forever(offset))
    tally = Tally()

    def next_index() -> int | None:
        return next(counter, None)

    async def main() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_one_client(port, crops, next_index, tally, deadline, pause) for _ in range(clients)))

    start = time.perf_counter()
    asyncio.run(main())
    return tally, time.perf_counter() - start


def _forever(start: int):
    while True:
        yield start
        start += 1


def server_processes(pid: int) -> list[int]:
    """The server's process and its descendants (uvicorn's worker processes with ``--workers``)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            todo += [int(child) for child in (task / "children").read_text().split()]
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of the server, its worker processes included."""
    total = 0.0
    for process in server_processes(pid):
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def cpu_seconds(pid: int) -> float:
    """CPU time the server has used so far (its worker processes included), all threads, user and system."""
    total = 0.0
    for process in server_processes(pid):
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def cpu_info(load_average: tuple[float, float, float]) -> dict:
    """The CPU as every benchmark records it (:func:`benchdata.cpu_description`), and the load average when the
    run started (other work on the machine)."""
    return {**benchdata.cpu_description(), "load_average_at_start": load_average}


def level_row(clients: int, tally: Tally, wall: float, rss: float, server_cpu: float) -> dict:
    n = len(tally.latencies)
    return {"clients": clients, "requests": n, "seconds": wall, "requests_per_second": n / wall,
            "images_per_second": n / wall, "p50_ms": 1000 * percentile(tally.latencies, 50),
            "p95_ms": 1000 * percentile(tally.latencies, 95), "p99_ms": 1000 * percentile(tally.latencies, 99),
            "errors": len(tally.errors), "differing": tally.wrong,
            "max_confidence_gap": tally.max_confidence_gap, "server_rss_mb_after": rss,
            "server_cpu_ms_per_request": 1000 * server_cpu / max(n, 1),
            "first_errors": tally.errors[:3], "differing_examples": tally.examples[:5]}


def server_args(args: argparse.Namespace) -> list[str]:
    width = ["--input-width", str(args.input_width)] if args.input_width else []
    threads = ["--threads", str(args.threads)] if args.threads else []
    return ["--backend", "onnxruntime", "--no-photo", "--max-wait-ms", str(args.max_wait_ms),
            "--workers", str(args.workers), *threads, *width]


def load_test(args: argparse.Namespace) -> dict:
    load_average = os.getloadavg()
    with Server(server_args(args)) as server:
        pid = server.process.pid
        crops = load_crops(server.port, args.input_width)
        rss_start = rss_mb(pid)
        run_clients(server.port, crops, 8, 64, args.max_seconds)  # warm-up
        rss_warm = rss_mb(pid)
        levels = []
        for clients in args.clients:
            cpu_before = cpu_seconds(pid)
            tally, wall = run_clients(server.port, crops, clients, args.requests, args.max_seconds)
            levels.append(level_row(clients, tally, wall, rss_mb(pid), cpu_seconds(pid) - cpu_before))
            print(f"{clients:4d} clients: {levels[-1]['images_per_second']:7.1f} img/s, p50 "
                  f"{levels[-1]['p50_ms']:.1f} ms, p99 {levels[-1]['p99_ms']:.1f} ms, errors {len(tally.errors)}, "
                  f"differing {tally.wrong}", flush=True)
        direct = PlateRecognizer(backend="onnxruntime", batch_size=DIRECT_BATCH, input_width=args.input_width)
        images = benchdata.cycle(crops.data, args.compare_images)
        direct.run_many(images)  # warmed up, as the server was: ORT's first call of each shape is not timed
        checked, direct_checked = Tally(), Tally()

        def service() -> None:
            tally, _ = run_clients(server.port, crops, 32, args.compare_images, args.max_seconds)
            checked.errors += tally.errors
            checked.wrong += tally.wrong

        def library(per_call: int):
            def read() -> None:
                for start in range(0, len(images), per_call):
                    for i, result in enumerate(direct.run_many(images[start : start + per_call]), start):
                        direct_checked.compare(crops, i % len(crops.data), result.text, result.confidence)
            return read

        seconds = benchdata.round_robin({
            SERVICE_CASE: service,
            LIBRARY_ONE_CALL: library(len(images)),
            LIBRARY_CALLS_OF_32: library(DIRECT_BATCH),
        }, args.rounds)
        rss_end = rss_mb(pid)
    rates = {name: [args.compare_images / s for s in values] for name, values in seconds.items()}
    medians = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "cpu": cpu_info(load_average), "source": crops.source, "model": str(benchdata.MODEL), "backend": "onnxruntime",
        "max_wait_ms": args.max_wait_ms, "input_width": args.input_width, "requests_per_level": args.requests,
        "server_workers": args.workers, "server_threads": args.threads,
        "images_per_request": 1,
        "note": "server and load generator share the machine's cores",
        "server_rss_mb": {"ready": rss_start, "after_warm_up": rss_warm, "end": rss_end},
        "levels": levels,
        "comparison": {"images_per_round": args.compare_images, "rounds": args.rounds, "images_per_second": rates,
                       "median_images_per_second": medians,
                       "ratio": medians[SERVICE_CASE] / medians[LIBRARY_ONE_CALL],
                       "ratio_to_calls_of_32": medians[SERVICE_CASE] / medians[LIBRARY_CALLS_OF_32],
                       "service_errors": len(checked.errors), "service_differing": checked.wrong,
                       "library_differing": direct_checked.wrong, "library_examples": direct_checked.examples[:5]},
    }


def soak(args: argparse.Namespace) -> dict:
    load_average = os.getloadavg()
    with Server(server_args(args)) as server:
        pid = server.process.pid
        crops = load_crops(server.port, args.input_width)
        run_clients(server.port, crops, 8, 64, args.max_seconds)  # warm-up
        samples = [(0.0, rss_mb(pid))]
        total = Tally()
        start, end, offset = time.monotonic(), time.monotonic() + 60 * args.soak_minutes, 0
        while time.monotonic() < end:
            tally, _ = run_clients(server.port, crops, 8, None, min(30.0, end - time.monotonic()), pause=0.02,
                                   offset=offset)
            offset += len(tally.latencies)
            total.latencies += tally.latencies
            total.errors += tally.errors
            total.wrong += tally.wrong
            total.examples += tally.examples
            total.max_confidence_gap = max(total.max_confidence_gap, tally.max_confidence_gap)
            samples.append((time.monotonic() - start, rss_mb(pid)))
            print(f"{samples[-1][0]:7.0f} s: {len(total.latencies)} requests, RSS {samples[-1][1]:.1f} MB, "
                  f"errors {len(total.errors)}, differing {total.wrong}", flush=True)
    wall = samples[-1][0]
    rss = [r for _, r in samples]
    return {"cpu": cpu_info(load_average), "source": crops.source, "input_width": args.input_width,
            "minutes": wall / 60, "clients": 8, "pause_ms": 20,
            "requests": len(total.latencies), "requests_per_second": len(total.latencies) / wall,
            "p50_ms": 1000 * percentile(total.latencies, 50), "p99_ms": 1000 * percentile(total.latencies, 99),
            "errors": len(total.errors), "differing": total.wrong, "max_confidence_gap": total.max_confidence_gap,
            "rss_mb": {"after_warm_up": rss[0], "first_half_max": max(rss[: len(rss) // 2 + 1]),
                       "second_half_max": max(rss[len(rss) // 2:]), "end": rss[-1]},
            "rss_samples": samples, "first_errors": total.errors[:3], "differing_examples": total.examples[:5]}


def markdown(result: dict) -> str:
    cpu = result["cpu"]
    width = f"at input width {result['input_width']}" if result["input_width"] else "by aspect"
    lines = [f"`twplate serve` load test: {result['source']}, one crop per request, shipped model on onnxruntime "
             f"({width}), batching wait {result['max_wait_ms']} ms, {result['server_workers']} worker process(es) "
             f"with {result['server_threads'] or 'the default'} backend threads each. {cpu['model']} "
             f"({cpu['cpus']} CPUs, {' '.join(cpu['flags'])}), load average "
             f"{cpu['load_average_at_start'][0]:.1f} at the start: "
             "the server and the load generator share these cores.", "",
             "| clients | requests | requests/s | images/s | p50 ms | p95 ms | p99 ms | errors | differing "
             "| server RSS MB | server CPU ms/request |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in result["levels"]:
        lines.append(f"| {row['clients']} | {row['requests']} | {row['requests_per_second']:.1f} | "
                     f"{row['images_per_second']:.1f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
                     f"{row['p99_ms']:.1f} | {row['errors']} | {row['differing']} | "
                     f"{row['server_rss_mb_after']:.0f} | {row['server_cpu_ms_per_request']:.2f} |")
    comparison = result["comparison"]
    medians = comparison["median_images_per_second"]
    rss = result["server_rss_mb"]
    lines += ["", f"* {SERVICE_CASE}: {medians[SERVICE_CASE]:.1f} images/s; {LIBRARY_ONE_CALL} on the same encoded "
              f"crops: {medians[LIBRARY_ONE_CALL]:.1f} images/s, ratio **{comparison['ratio']:.0%}**; "
              f"{LIBRARY_CALLS_OF_32} (what 32 one-crop requests hand the model at a time): "
              f"{medians[LIBRARY_CALLS_OF_32]:.1f} images/s, ratio **{comparison['ratio_to_calls_of_32']:.0%}** "
              f"(medians of {comparison['rounds']} round-robin rounds of {comparison['images_per_round']} images).",
              f"* Server RSS: {rss['ready']:.0f} MB ready, {rss['after_warm_up']:.0f} MB after warm-up, "
              f"{rss['end']:.0f} MB at the end.",
              f"* Differing = the text differs from `PlateRecognizer` reading the crop alone"
              f"{f' (or a confidence by more than {EXACT})' if result['input_width'] else ''}. In the comparison "
              f"rounds: the service {comparison['service_differing']} of "
              f"{comparison['rounds'] * comparison['images_per_round']}, the library itself (batches of "
              f"{DIRECT_BATCH}) {comparison['library_differing']} (a reading does not depend on its batch-mates, so "
              "both should be 0)."]
    return "\n".join(lines) + "\n"


def soak_markdown(result: dict) -> str:
    rss = result["rss_mb"]
    return (f"Soak: {result['minutes']:.1f} minutes, {result['clients']} clients pausing {result['pause_ms']} ms "
            f"between requests, {result['requests']} requests ({result['requests_per_second']:.1f}/s), "
            f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, errors {result['errors']}, answers "
            f"differing from the library's {result['differing']} (largest confidence gap among the equal ones "
            f"{result['max_confidence_gap']:.2g}; input width {result['input_width'] or 'by aspect'}). Server RSS: "
            f"{rss['after_warm_up']:.1f} MB after warm-up, max {rss['first_half_max']:.1f} MB in the first half, "
            f"{rss['second_half_max']:.1f} MB in the second, {rss['end']:.1f} MB at the end. {result['cpu']['model']} "
            f"({result['cpu']['cpus']} CPUs), load average {result['cpu']['load_average_at_start'][0]:.0f} at the "
            "start.\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32, 128])
    parser.add_argument("--requests", type=int, default=600, help="requests per client count")
    parser.add_argument("--compare-images", type=int, default=512, help="images per round of the comparison")
    parser.add_argument("--rounds", type=int, default=5, help="round-robin rounds of the comparison")
    parser.add_argument("--max-seconds", type=float, default=120, help="time limit of each level and round")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="the server's batching wait")
    parser.add_argument("--workers", type=int, default=1, help="the server's worker processes")
    parser.add_argument("--threads", type=int, default=None, help="the server's backend threads per worker")
    parser.add_argument("--input-width", type=int, default=None,
                        help="the server's and the library's --input-width (default: by aspect)")
    parser.add_argument("--soak-minutes", type=float, default=0, help="run the soak instead of the load test")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve"),
                        help="results as OUT.json and OUT.md (the soak: OUT_soak.json and .md)")
    args = parser.parse_args(argv)
    if args.soak_minutes:
        result, out = soak(args), args.out.with_name(args.out.name + "_soak")
        text = soak_markdown(result)
    else:
        result, out = load_test(args), args.out
        text = markdown(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
