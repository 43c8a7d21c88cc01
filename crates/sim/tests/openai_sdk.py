"""The simulator's HTTP face, driven by the official OpenAI Python SDK.

Run by tests/openai_sdk.rs as `python3 openai_sdk.py BASE_URL`, with
BASE_URL the server's `http://127.0.0.1:PORT/v1`. Every call is the SDK's
own (`client.videos.*`), so the wire format is whatever the SDK sends:
create is multipart/form-data. Exits non-zero, with the failed check, on
the first thing that is not as the SDK's types and docs say.
"""

import sys
import time

import openai
from openai import OpenAI

SIZE = "96x64"
SECONDS = "1"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def check_video(v, prompt, before, model="framebreak-sim"):
    check(v.object == "video", f"object {v.object!r}")
    check(v.id.startswith("video_"), f"id {v.id!r}")
    check(v.prompt == prompt, f"prompt {v.prompt!r} != {prompt!r}")
    check(v.model == model, f"model {v.model!r} != {model!r}")
    check(v.size == SIZE and v.seconds == SECONDS, f"size/seconds {v.size!r} {v.seconds!r}")
    check(isinstance(v.created_at, int), f"created_at {v.created_at!r}")
    check(before - 1 <= v.created_at <= time.time() + 1, f"created_at {v.created_at} vs {before}")
    check(isinstance(v.progress, int) and 0 <= v.progress <= 100, f"progress {v.progress!r}")
    check(v.status in ("queued", "in_progress", "completed", "failed"), f"status {v.status!r}")


def main(base_url):
    submitted = []

    def record(request):
        if request.method == "POST" and request.url.path.endswith("/videos"):
            submitted.append(request.headers.get("content-type", ""))

    client = OpenAI(base_url=base_url, api_key="sk-anything", max_retries=0, timeout=60,
                    http_client=openai.DefaultHttpxClient(event_hooks={"request": [record]}))
    before = int(time.time())

    # create: multipart/form-data, as the SDK always sends it.
    first = client.videos.create(prompt="a red ball bounces on a wooden floor",
                                 model="sora-2", seconds=SECONDS, size=SIZE)
    check_video(first, "a red ball bounces on a wooden floor", before, model="sora-2")
    check(submitted and submitted[0].startswith("multipart/form-data; boundary="),
          f"the SDK did not send a form: {submitted}")

    # create_and_poll: the poll interval comes from `openai-poll-after-ms`.
    done = client.videos.create_and_poll(prompt="a pendulum swings in a quiet hall",
                                         seconds=SECONDS, size=SIZE)
    check_video(done, "a pendulum swings in a quiet hall", before)
    check(done.status == "completed" and done.progress == 100, f"not completed: {done}")
    check(done.completed_at is not None and done.completed_at >= done.created_at,
          f"completed_at {done.completed_at!r}")
    check(done.error is None, f"error {done.error!r}")

    # retrieve, and poll the first to its end.
    again = client.videos.retrieve(first.id)
    check(again.id == first.id and again.created_at == first.created_at,
          f"retrieve changed the job: {again} vs {first}")
    first = client.videos.poll(first.id)
    check(first.status == "completed", f"first not completed: {first}")

    # list: newest first by default; `limit`, `order` and `after` page it,
    # and the SDK's auto-pagination follows `last_id`/`has_more`.
    made = [first.id, done.id] + [
        client.videos.create(prompt=f"a ball rolls down a ramp, take {i}",
                             seconds=SECONDS, size=SIZE).id
        for i in range(3)
    ]
    page = client.videos.list(limit=2, order="asc")
    check([v.id for v in page.data] == made[:2], f"first asc page {page.data}")
    check(page.has_more is True and page.last_id == made[1], f"page {page}")
    check(page.first_id == made[0], f"first_id {page.first_id!r}")
    every_asc = [v.id for v in client.videos.list(limit=2, order="asc")]
    check(every_asc == made, f"asc over pages {every_asc} != {made}")
    every_desc = [v.id for v in client.videos.list(limit=2)]
    check(every_desc == made[::-1], f"desc over pages {every_desc}")
    tail = client.videos.list(after=made[1], order="asc", limit=100)
    check([v.id for v in tail.data] == made[2:] and tail.has_more is False, f"after {tail}")
    listed = {v.id: v for v in client.videos.list(limit=100)}
    check(listed[done.id].prompt == done.prompt
          and listed[done.id].created_at == done.created_at, "a listed video differs")
    try:
        client.videos.list(limit=101)
        raise AssertionError("limit=101 was accepted")
    except openai.BadRequestError as e:
        check(e.param == "limit" and e.type == "invalid_request_error", f"limit error {e.body}")

    # download_content: the MP4, a WebP thumbnail and a JPEG spritesheet.
    video = client.videos.download_content(done.id)
    check(video.content[4:8] == b"ftyp", "the video is not an MP4")
    check(video.response.headers["content-type"] == "video/mp4", "video content type")
    thumb = client.videos.download_content(done.id, variant="thumbnail")
    check(thumb.content[:4] == b"RIFF" and thumb.content[8:12] == b"WEBP",
          f"the thumbnail is not WebP: {thumb.content[:12]!r}")
    check(thumb.response.headers["content-type"] == "image/webp", "thumbnail content type")
    sheet = client.videos.download_content(done.id, variant="spritesheet")
    check(sheet.content[:3] == b"\xff\xd8\xff" and sheet.content[-2:] == b"\xff\xd9",
          "the spritesheet is not a JPEG")
    check(sheet.response.headers["content-type"] == "image/jpeg", "spritesheet content type")

    # delete: the SDK's response shape, then the video is not found.
    gone = client.videos.delete(first.id)
    check(gone.id == first.id and gone.deleted is True and gone.object == "video.deleted",
          f"delete answered {gone}")
    try:
        client.videos.retrieve(first.id)
        raise AssertionError("a deleted video was retrieved")
    except openai.NotFoundError:
        pass
    left = [v.id for v in client.videos.list(order="asc")]
    check(left == made[1:], f"after delete the list is {left}")

    print(f"openai {openai.__version__}: create, create_and_poll, retrieve, list, "
          f"download_content (video, thumbnail, spritesheet) and delete all as the SDK expects")


if __name__ == "__main__":
    main(sys.argv[1])
