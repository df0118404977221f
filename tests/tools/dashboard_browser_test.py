#!/usr/bin/env python3
"""Drives `winnow dashboard` in headless Chromium: the funnel matches `winnow stats`, a filter
reason lists its dropped documents, and hostile document text is shown as text, never run.

    python3 tests/tools/dashboard_browser_test.py WINNOW_BINARY SHARED_DIR ARTIFACT_DIR

Curates SHARED_DIR/data/commoncrawl plus a generated WARC (tests/tools/xss_warc.py) whose page
text is `<script>alert(1)</script>` and `<img src=x onerror=alert(2)>`, serves the data dir
with `winnow dashboard --http 127.0.0.1:0` and checks the page with selenium. Screenshots go to
ARTIFACT_DIR (dashboard-overview.png, dashboard-filters.png, dashboard-xss.png,
dashboard-distributions.png, and dashboard-failure.png when it fails); with
UPDATE_README_SCREENSHOT=1 the overview screenshot is also copied to docs/dashboard.png.

Exits 77 (ctest's skip code here) when selenium, chromium or chromedriver is missing
(`python3 -m pip install selenium`; Debian: `apt-get install chromium chromium-driver`).
"""
import json
import os
import pathlib
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

try:
    from selenium import webdriver
    from selenium.common.exceptions import (NoAlertPresentException, TimeoutException,
                                            UnexpectedAlertPresentException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("selenium is not installed (python3 -m pip install selenium): skipped")
    sys.exit(77)

for tool in (CHROMIUM, CHROMEDRIVER):
    if not os.access(tool, os.X_OK):
        print(f"{tool} is missing (apt-get install chromium chromium-driver): skipped")
        sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import xss_warc  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
XSS_WARC_NAME = "CC-MAIN-2099-01-xss.warc"
XSS_SNAPSHOT = "CC-MAIN-2099-01"
WAIT_S = 30  # generous: CI runs this on 2 cores next to other tests

# Runs before every page script: records alert/confirm/prompt calls (the dialog still opens,
# so switch_to.alert sees it too) and any inline-script CSP violation.
HOOKS = """
window.__winnow_dialogs = [];
window.__winnow_csp = [];
for (const name of ["alert", "confirm", "prompt"]) {
  const original = window[name];
  window[name] = function (...args) {
    window.__winnow_dialogs.push(name + ":" + args.join(","));
    return original.apply(this, args);
  };
}
document.addEventListener("securitypolicyviolation",
  (e) => window.__winnow_csp.push(e.violatedDirective + " " + e.blockedURI));
"""


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def number(text):
    """"1,234" (en-US toLocaleString) → 1234."""
    digits = text.replace(",", "").strip()
    check(re.fullmatch(r"\d+", digits) is not None, f"not a count: {text!r}")
    return int(digits)


def start_server(argv, cwd, patterns):
    """Starts a server; waits until its stderr matched every regex of `patterns` (one group
    each). Returns (process, [first group of each], stderr lines)."""
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines, found = [], queue.Queue()

    def drain():  # keeps reading so a chatty server never blocks on a full pipe
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            for i, pattern in enumerate(patterns):
                match = re.search(pattern, line)
                if match:
                    found.put((i, match.group(1)))
        found.put(None)

    threading.Thread(target=drain, daemon=True).start()
    values = [None] * len(patterns)
    deadline = time.monotonic() + WAIT_S
    while any(v is None for v in values):
        try:
            item = found.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            item = None
        if item is None:
            proc.kill()
            raise Failure(f"{argv[1]} printed no {patterns}; stderr:\n" + "\n".join(lines))
        values[item[0]] = item[1]
    return proc, values, lines


def start_dashboard(winnow, cwd, data_dir):
    """Starts `winnow dashboard` on a free port; returns (process, base URL, stderr lines)."""
    proc, (url,), lines = start_server(
        [winnow, "dashboard", "--data-dir", data_dir, "--http", "127.0.0.1:0"], cwd,
        [r"winnow dashboard: (http://127\.0\.0\.1:\d+/)"])
    return proc, url, lines


def new_driver():
    from selenium.webdriver.chrome.options import Options
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                "--disable-dev-shm-usage", "--lang=en-US"):
        options.add_argument(arg)
    # Leave dialogs open, so an alert() shows up in switch_to.alert instead of being dismissed.
    options.unhandled_prompt_behavior = "ignore"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOKS})
    return driver


def wait(driver, what, condition):
    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        status = driver.find_elements(By.ID, "status")
        raise Failure(f"timed out waiting for {what}; page status: "
                      f"{status[0].text if status else '(none)'!r}") from None


def assert_no_dialog(driver, where):
    try:
        alert = driver.switch_to.alert
        text = alert.text
        alert.dismiss()
        raise Failure(f"{where}: a dialog opened ({text!r}): document text was run as script")
    except NoAlertPresentException:
        pass


def table_cells(driver, selector):
    """[[cell text, …] for each row] of the rows matching `selector`, read in one script so the
    overview's 10 s refresh cannot swap the rows out halfway."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), (tr) =>"
        " [tr.dataset.step || ''].concat(Array.from(tr.cells, (td) => td.innerText.trim())));",
        selector)


def funnel_rows(driver):
    return [(row[0], number(row[2])) for row in table_cells(driver, "#funnel tr[data-step]")]


def check_overview(driver, base, stats, artifacts):
    driver.get(base + "#overview")
    wait(driver, "the funnel",
         lambda d: d.find_elements(By.CSS_SELECTOR, '#funnel tr[data-step="curated"]'))
    check(driver.find_element(By.ID, "status").get_attribute("class") != "error",
          "overview: status shows an error: " + driver.find_element(By.ID, "status").text)
    rows = funnel_rows(driver)
    steps = dict(rows)
    names = [name for name, _ in rows]
    counters = stats["total"]["counters"]
    records, kept = counters["read/records"], counters.get("write/kept", 0)
    exact = sum(g.get("exact_duplicates", 0) for g in stats["dedup"].values())
    near = sum(g.get("near_duplicates", 0) for g in stats["dedup"].values())

    for name in ("records", "responses", "HTML pages", "extracted", "after exact dedup", "curated"):
        check(name in steps, f"funnel has no {name!r} step: {names}")
    check(steps["records"] == records,
          f"funnel records {steps['records']} != stats read/records {records}")
    responses = records - sum(v for k, v in counters.items()
                              if k.startswith(("read/skipped/", "read/damaged/")))
    check(steps["responses"] == responses,
          f"funnel responses {steps['responses']} != records minus skipped/damaged {responses}")
    # The row before the dedup steps is "after <last filter>": what the filters let through,
    # i.e. what was written.
    last_filter = names[names.index("after exact dedup") - 1]
    check(last_filter.startswith("after "), f"no filter step before dedup: {names}")
    check(steps[last_filter] == kept,
          f"funnel {last_filter!r} {steps[last_filter]} != write/kept {kept}")
    check(steps["after exact dedup"] == kept - exact,
          f"funnel 'after exact dedup' {steps['after exact dedup']} != "
          f"{kept} - {exact} exact duplicates")
    check(steps["curated"] == kept - exact - near,
          f"funnel curated {steps['curated']} != {kept} - {exact} exact - {near} near duplicates")
    counts = [count for _, count in rows]
    check(all(a >= b for a, b in zip(counts, counts[1:])), f"funnel counts grow somewhere: {rows}")
    for filter_name in stats_filters(counters):
        step = "after " + filter_name
        check(step in steps, f"funnel has no {step!r} step for a filter in stats: {names}")

    # The inputs table names the generated WARC's snapshot (taken from its file name).
    inputs = [row[1:] for row in table_cells(driver, "#inputs tr") if len(row) > 2]
    check(any(row[0] == XSS_SNAPSHOT and row[1].endswith(XSS_WARC_NAME) for row in inputs),
          f"inputs table has no {XSS_SNAPSHOT} row for {XSS_WARC_NAME}: {inputs}")
    assert_no_dialog(driver, "overview")
    driver.save_screenshot(str(artifacts / "dashboard-overview.png"))
    print(f"overview: {len(rows)} funnel steps, records {records}, {last_filter} {kept}, "
          f"curated {steps['curated']}")


def stats_filters(counters):
    """Filter names from `<filter>/kept` and `<filter>/dropped/…` counters."""
    parts = [k.split("/") for k in counters]
    return sorted({p[0] for p in parts if len(p) > 1 and p[0] not in ("read", "extract", "write")
                   and p[1] in ("kept", "dropped")})


def open_filters(driver):
    driver.find_element(By.CSS_SELECTOR, 'nav a[data-tab="filters"]').click()
    wait(driver, "the filter table",
         lambda d: d.find_elements(By.CSS_SELECTOR, "#filter-table tr[data-filter]"))


def reasons_of(driver, filter_name):
    """The span.reason elements listed under the filter's row, in order."""
    return driver.find_elements(
        By.XPATH, f'//table[@id="filter-table"]//tr[@data-filter="{filter_name}"]'
        f'/following-sibling::tr[not(@data-filter)][preceding-sibling::tr[@data-filter][1]'
        f'[@data-filter="{filter_name}"]]//span[contains(@class, "reason")]')


def browse(driver, filter_name, reason):
    """Clicks the reason and waits until its dropped documents are listed."""
    spans = [s for s in reasons_of(driver, filter_name) if s.get_attribute("data-reason") == reason]
    check(spans, f"filters: no reason {reason!r} under {filter_name!r}")
    # The header is sticky: scroll the reason to the middle so the click lands on it.
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", spans[0])
    spans[0].click()
    title = f"Dropped by {filter_name}: {reason}"
    wait(driver, f"the documents of {title!r}", lambda d:
         d.find_element(By.ID, "dropped").is_displayed()
         and d.find_element(By.ID, "dropped-title").text == title
         and d.find_elements(By.CSS_SELECTOR, "#dropped-list .doc"))
    return driver.find_elements(By.CSS_SELECTOR, "#dropped-list .doc")


def check_filters(driver, stats, artifacts):
    open_filters(driver)
    counters = stats["total"]["counters"]
    spans = reasons_of(driver, "language")
    check(spans, "filters: no reason listed under 'language'")
    shown = [s.get_attribute("data-reason") for s in spans]
    expected = sorted(k.split("/")[2] for k in counters if k.startswith("language/dropped/"))
    check(sorted(shown) == expected, f"language reasons {shown} != stats {expected}")
    # A Latin-script language when there is one: the screenshot is for people (and the test
    # machine may have no CJK fonts).
    reason = next((r for r in ("nl", "de", "fr", "es") if r in shown), shown[0])
    docs = browse(driver, "language", reason)
    doc = docs[0]
    url = doc.find_element(By.CSS_SELECTOR, ".url").text
    text = doc.find_element(By.TAG_NAME, "pre").text
    check(url.startswith("http"), f"filters: dropped document has no URL: {url!r}")
    check(text.strip(), f"filters: dropped document {url} shows no text")
    scores = " ".join(e.text for e in doc.find_elements(By.CSS_SELECTOR, ".scores"))
    check(re.search(rf'\blanguage "?{reason}"?', scores) and "language_score" in scores,
          f"filters: scores of {url} do not say language {reason}: {scores!r}")
    info = driver.find_element(By.ID, "page-info").text
    check(re.match(r"page 1 of \d+ · \d+ stored examples?$", info),
          f"filters: page info {info!r}")
    assert_no_dialog(driver, "filters")
    driver.execute_script("document.getElementById('dropped').scrollIntoView({block: 'start'});"
                          "window.scrollBy(0, -60);")
    driver.save_screenshot(str(artifacts / "dashboard-filters.png"))
    print(f"filters: language/{reason}: {len(docs)} documents shown, first {url} "
          f"({len(text)} characters)")


def xss_reason(stats):
    """(filter, reason) that dropped the generated page, from its input's counters."""
    inputs = [v["counters"] for k, v in stats["inputs"].items() if k.endswith(XSS_WARC_NAME)]
    check(len(inputs) == 1,
          f"stats has no single input for {XSS_WARC_NAME}: {list(stats['inputs'])}")
    dropped = [k.split("/") for k, v in inputs[0].items()
               if v and "/dropped/" in k and not k.startswith(("read/", "extract/"))]
    check(len(dropped) == 1, f"the XSS page was not dropped by exactly one filter: {inputs[0]}")
    return dropped[0][0], dropped[0][2]


def check_xss(driver, stats, artifacts):
    filter_name, reason = xss_reason(stats)
    docs = browse(driver, filter_name, reason)
    found = None
    for _ in range(50):  # pages of 10
        for doc in docs:
            text = doc.find_element(By.TAG_NAME, "pre").get_property("textContent")
            if xss_warc.SCRIPT_PAYLOAD in text:
                found = doc
                break
        if found or not driver.find_element(By.ID, "next").is_enabled():
            break
        info = driver.find_element(By.ID, "page-info").text
        driver.find_element(By.ID, "next").click()
        wait(driver, "the next page", lambda d: d.find_element(By.ID, "page-info").text != info)
        docs = driver.find_elements(By.CSS_SELECTOR, "#dropped-list .doc")
    check(found is not None,
          f"the XSS page is not among the documents of {filter_name}: {reason}")
    pre = found.find_element(By.TAG_NAME, "pre")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", found)
    time.sleep(0.5)  # an injected <img src=x onerror=…> would have failed and fired by now
    assert_no_dialog(driver, "XSS")

    url = found.find_element(By.CSS_SELECTOR, ".url").text
    check(url == xss_warc.XSS_URL, f"XSS page URL {url!r} != {xss_warc.XSS_URL!r}")
    for payload in (xss_warc.SCRIPT_PAYLOAD, xss_warc.IMG_PAYLOAD, xss_warc.FLAG_PAYLOAD):
        check(payload in pre.text, f"the <pre> does not show {payload!r} literally: {pre.text!r}")
    markup = pre.get_property("innerHTML")
    check("&lt;script&gt;alert(1)&lt;/script&gt;" in markup,
          f"the <pre> markup does not hold the escaped script: {markup!r}")
    check(found.find_element(By.CSS_SELECTOR, ".muted").text.startswith(XSS_SNAPSHOT),
          f"the XSS page's line does not start with its snapshot {XSS_SNAPSHOT}")
    for tag in ("img", "script", "iframe", "svg", "[onerror]", "[onload]"):
        found_tags = driver.find_elements(By.CSS_SELECTOR, f"#dropped-list {tag}")
        check(not found_tags,
              f"#dropped-list holds {len(found_tags)} {tag} element(s): markup was injected")
    scripts = [s.get_attribute("src") for s in driver.find_elements(By.TAG_NAME, "script")]
    check(all(s and s.endswith("/app.js") for s in scripts),
          f"unexpected <script> elements: {scripts}")
    side = driver.execute_script(
        "return {flag: window.__winnow_xss === undefined ? null : window.__winnow_xss,"
        " dialogs: window.__winnow_dialogs || null, csp: window.__winnow_csp || null,"
        " title: document.title, images: document.images.length};")
    check(side["dialogs"] == [],
          f"dialogs were called: {side['dialogs']} (or the hook did not run)")
    check(side["flag"] is None, "window.__winnow_xss was set: an onerror handler ran")
    check(side["csp"] == [], f"the page hit its Content-Security-Policy: {side['csp']}")
    check(side["title"] == "winnow dashboard", f"document.title changed: {side['title']!r}")
    check(side["images"] == 0, f"the page has {side['images']} <img> elements")
    driver.save_screenshot(str(artifacts / "dashboard-xss.png"))
    print(f"xss: {filter_name}/{reason} shows {url} with its <script>/<img> text as text; "
          "no dialog, no injected element, no side effect")


def loaded(driver):
    """True once the tab's load finished; a Failure if the page reports an error."""
    status = driver.find_element(By.ID, "status")
    check(status.get_attribute("class") != "error", "the page shows an error: " + status.text)
    return status.text.startswith("updated ")


def check_other_tabs(driver, artifacts):
    driver.find_element(By.CSS_SELECTOR, 'nav a[data-tab="distributions"]').click()
    wait(driver, "the distributions",
         lambda d: d.find_elements(By.CSS_SELECTOR, "#charts .chart") and loaded(d))
    titles = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "#charts .chart h3")]
    for title in ("document length (characters)", "language", "top domains dropped"):
        check(title in titles, f"distributions: no {title!r} chart: {titles}")
    driver.save_screenshot(str(artifacts / "dashboard-distributions.png"))
    driver.find_element(By.CSS_SELECTOR, 'nav a[data-tab="jobs"]').click()
    wait(driver, "the jobs", lambda d: d.find_element(By.ID, "jobs").is_displayed()
         and d.find_elements(By.CSS_SELECTOR, "#job-table tr") and loaded(d))
    jobs = driver.find_element(By.ID, "job-table").text
    check("No cluster jobs" in jobs, "jobs: an embedded run lists cluster jobs: " + jobs)
    assert_no_dialog(driver, "distributions and jobs")
    print(f"distributions: {len(titles)} charts; jobs: none (embedded run)")


TRAIN_STEPS = 60
HOSTILE_NAME = '<img src=x onerror="window.__winnow_xss=3;alert(3)">'


def check_training(winnow, shared, tmp, driver, artifacts):
    """A cluster: a coordinator with its dashboard, one worker, a curation job, then a training
    job (named with markup). The jobs tab lists it and draws every reported step."""
    procs = []
    try:
        coordinator, (grpc_port, url), coordinator_log = start_server(
            [winnow, "serve", "coordinator", "--data-dir", os.path.join(tmp, "cluster"),
             "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0",
             "--allow-root", f"{shared}/data/commoncrawl"], tmp,
            [r"gRPC on 127\.0\.0\.1:(\d+)", r"dashboard on (http://127\.0\.0\.1:\d+/)"])
        procs.append(coordinator)
        address = "127.0.0.1:" + grpc_port
        worker = subprocess.Popen([winnow, "serve", "worker", "--coordinator", address,
                                   "--threads", "1", "--work-dir", os.path.join(tmp, "work")],
                                  cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(worker)

        def submit(*args):
            done = subprocess.run([winnow, "submit", "--coordinator", address, *args, "--wait"],
                                  capture_output=True, text=True, timeout=300)
            check(done.returncode == 0, f"winnow submit {args} exited {done.returncode}:\n"
                  f"{done.stdout}{done.stderr}\ncoordinator:\n" + "\n".join(coordinator_log))
            return done.stdout.strip()

        no_filters = os.path.join(tmp, "no-filters.yaml")
        pathlib.Path(no_filters).write_text("filters:\n  order: []\n")
        submit(f"{shared}/data/commoncrawl/CC-MAIN-2020-34-excerpt.warc.gz", "--config", no_filters)
        # A byte-level tokenizer: `tiny` then takes milliseconds a step.
        import base64
        ranks = "".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256))
        pathlib.Path(tmp, "bytes.tiktoken").write_text(ranks)
        pathlib.Path(tmp, "winnow_tokenizer.json").write_text(
            '{"pattern": "r50k", "specials": {"<|endoftext|>": 256}}')
        train = os.path.join(tmp, "train.yaml")
        pathlib.Path(train).write_text(
            f"model: tiny\ntokenizer: {tmp}/bytes.tiktoken\nsteps: {TRAIN_STEPS}\n"
            "batch_size: 4\nseq_len: 32\nlr: 0.003\neval_every: 20\neval_batches: 2\n"
            "threads: 1\n")
        job = submit("--train", train, "--snapshot", "CC-MAIN-2020-34", "--name", HOSTILE_NAME)
        metrics = subprocess.run([winnow, "status", "--coordinator", address, job, "--metrics"],
                                 capture_output=True, text=True, check=True).stdout
        lines = [json.loads(l) for l in metrics.splitlines() if l.startswith("{")]
        check(len(lines) == TRAIN_STEPS + 1, f"{len(lines)} metrics lines for {TRAIN_STEPS} steps")
        evaluations = sum(1 for m in lines if "val_loss" in m)

        driver.get(url + "#jobs")
        wait(driver, "the training job's curve",
             lambda d: d.find_elements(By.CSS_SELECTOR, "#training-curve polyline") and loaded(d))
        rows = driver.find_elements(By.CSS_SELECTOR, "#training-table tr[data-job]")
        check(len(rows) == 1, f"{len(rows)} training rows, expected 1")
        cells = [c.text for c in rows[0].find_elements(By.TAG_NAME, "td")]
        check(cells[0] == job and cells[2] == "succeeded", f"training row {cells}")
        check(cells[1] == HOSTILE_NAME, f"the job name is not shown as text: {cells[1]!r}")
        check(cells[4] == f"{TRAIN_STEPS} / {TRAIN_STEPS}", f"step cell {cells[4]!r}")
        check(float(cells[6]) == round(lines[-1]["val_loss"], 4) or
              abs(float(cells[6]) - lines[-1]["val_loss"]) < 6e-5, f"val loss cell {cells[6]!r}")
        points = driver.find_element(By.CSS_SELECTOR, "#training-curve polyline")
        n_points = len(points.get_attribute("points").split())
        check(n_points == TRAIN_STEPS, f"the curve has {n_points} points for {TRAIN_STEPS} steps")
        dots = driver.find_elements(By.CSS_SELECTOR, "#training-curve circle")
        check(len(dots) == evaluations, f"{len(dots)} validation dots, {evaluations} evaluations")
        jobs = driver.find_element(By.ID, "job-table").text
        check("CC-MAIN-2020-34-excerpt" in jobs, "the curation job is not listed: " + jobs)
        check(not driver.find_elements(By.CSS_SELECTOR, "#jobs img"), "markup was injected")
        check(driver.execute_script("return window.__winnow_xss === undefined"),
              "the job name's onerror ran")
        assert_no_dialog(driver, "training jobs")
        driver.execute_script("document.getElementById('training-curve').scrollIntoView();")
        driver.save_screenshot(str(artifacts / "dashboard-training.png"))
        print(f"training: {job} listed as succeeded, {n_points} steps and {len(dots)} "
              "evaluations drawn; its markup name shown as text")
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def check_console(driver):
    """Severe browser console entries (JS errors, failed loads) fail the test."""
    severe = [e["message"] for e in driver.get_log("browser")
              if e.get("level") == "SEVERE" and "favicon.ico" not in e.get("message", "")]
    check(not severe, "browser console errors:\n  " + "\n  ".join(severe))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines in order with errors
    winnow, shared = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    artifacts = pathlib.Path(sys.argv[3]).resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    dashboard = driver = None
    with tempfile.TemporaryDirectory(prefix="winnow-dashboard-") as tmp:
        try:
            warc = os.path.join(tmp, XSS_WARC_NAME)
            xss_warc.write_xss_warc(warc)
            data = os.path.join(tmp, "winnow-data")
            run = subprocess.run([winnow, "run", "-q", f"{shared}/data/commoncrawl", warc,
                                  "--data-dir", data], capture_output=True, text=True)
            check(run.returncode == 0,
                  f"winnow run exited {run.returncode}:\n{run.stdout}{run.stderr}")
            print(f"winnow run: {time.monotonic() - started:.1f} s")
            out = subprocess.run([winnow, "stats", "--data-dir", data, "--json"],
                                 capture_output=True, text=True, check=True).stdout
            stats = json.loads(out)
            # Relative to its working directory, so the page title reads "winnow-data".
            dashboard, base, _ = start_dashboard(winnow, tmp, "winnow-data")
            driver = new_driver()
            check_overview(driver, base, stats, artifacts)
            check_filters(driver, stats, artifacts)
            check_xss(driver, stats, artifacts)
            check_other_tabs(driver, artifacts)
            check_training(winnow, shared, tmp, driver, artifacts)
            check_console(driver)
            if os.environ.get("UPDATE_README_SCREENSHOT") == "1":
                (REPO / "docs").mkdir(exist_ok=True)
                # README.md shows it as "the funnel of a run".
                shutil.copyfile(artifacts / "dashboard-overview.png",
                                REPO / "docs" / "dashboard.png")
                print(f"updated {REPO / 'docs' / 'dashboard.png'}")
        except Exception as e:  # noqa: BLE001 (a Failure, or selenium/subprocess trouble)
            if isinstance(e, Failure):
                print(f"FAILED: {e}", file=sys.stderr)
            elif isinstance(e, UnexpectedAlertPresentException):
                print("".join(traceback.format_tb(e.__traceback__)), end="", file=sys.stderr)
                print(f"FAILED: a dialog opened ({e.alert_text!r}): page content ran as script",
                      file=sys.stderr)
            else:  # where it happened, and selenium's message without the driver's stack
                print("".join(traceback.format_tb(e.__traceback__)), end="", file=sys.stderr)
                print(f"FAILED: {type(e).__name__}: {getattr(e, 'msg', None) or e}",
                      file=sys.stderr)
            if driver is not None:
                try:
                    driver.save_screenshot(str(artifacts / "dashboard-failure.png"))
                    print(f"screenshot of the failure: {artifacts / 'dashboard-failure.png'}",
                          file=sys.stderr)
                except Exception:  # a dialog left open, a dead browser: the message says enough
                    pass
            return 1
        finally:
            if driver is not None:
                try:
                    driver.quit()
                except Exception:  # noqa: BLE001 (a dead browser must not keep the server up)
                    pass
            if dashboard is not None:
                dashboard.kill()
                dashboard.wait()
    print(f"dashboard browser test passed in {time.monotonic() - started:.1f} s; "
          f"screenshots in {artifacts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
