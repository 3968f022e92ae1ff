// The demo page's behaviour: plain browser JavaScript, no build step.
// Every call goes to the API that served the page (window.API_ROOT).
"use strict";

(function () {
  const ROOT = window.API_ROOT || "/";
  const $ = (id) => document.getElementById(id);
  const BOX_COLOURS = ["#e11d48", "#2563eb", "#16a34a", "#d97706", "#7c3aed", "#0891b2"];

  function apiUrl(path, query) {
    const url = new URL(ROOT + path, location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== "" && value !== null && value !== undefined) url.searchParams.set(name, value);
    }
    return url.toString();
  }

  // The API's error body is {code, message, ...}; anything else is shown as is.
  async function readJson(response) {
    const text = await response.text();
    let body;
    try { body = JSON.parse(text); } catch (e) { body = { message: text }; }
    if (!response.ok) {
      const message = body.message || body.Message || response.statusText;
      throw new Error(`${response.status}: ${message}`);
    }
    return body;
  }

  function setStatus(element, text, state) {
    element.textContent = text;
    element.classList.toggle("error", state === "error");
    element.dataset.status = state;
  }

  function formatNumber(value) {
    if (value === null || value === undefined) return "—";
    return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, "");
  }

  // ---- images: classification and detection -------------------------------

  function imageForm(files) {
    const form = new FormData();
    for (const file of files) form.append("image", file, file.name);
    return form;
  }

  function loadImage(file) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error("the browser cannot show this file"));
      image.src = URL.createObjectURL(file);
    });
  }

  function labelList(predictions) {
    const list = document.createElement("ul");
    list.className = "labels";
    for (const prediction of predictions) {
      const item = document.createElement("li");
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = prediction.label;
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = (prediction.score * 100).toFixed(1) + "%";
      item.append(label, score);
      list.append(item);
    }
    return list;
  }

  // Boxes come in the source image's pixels; the canvas shows it scaled.
  function drawDetections(canvas, image, detections, sourceWidth, sourceHeight) {
    const scale = Math.min(1, 320 / image.naturalWidth);
    canvas.width = Math.round(image.naturalWidth * scale);
    canvas.height = Math.round(image.naturalHeight * scale);
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    const sx = canvas.width / (sourceWidth || image.naturalWidth);
    const sy = canvas.height / (sourceHeight || image.naturalHeight);
    context.lineWidth = 2;
    context.font = "12px system-ui, sans-serif";
    detections.forEach((detection, index) => {
      const [x1, y1, x2, y2] = detection.box;
      const colour = BOX_COLOURS[index % BOX_COLOURS.length];
      const x = x1 * sx, y = y1 * sy, w = (x2 - x1) * sx, h = (y2 - y1) * sy;
      context.strokeStyle = colour;
      context.strokeRect(x, y, w, h);
      const caption = `${detection.label} ${(detection.score * 100).toFixed(0)}%`;
      const textWidth = context.measureText(caption).width + 6;
      const top = y >= 16 ? y - 16 : y;
      context.fillStyle = colour;
      context.fillRect(x, top, textWidth, 16);
      context.fillStyle = "#fff";
      context.fillText(caption, x + 3, top + 12);
    });
    canvas.dataset.boxes = JSON.stringify(detections.map((d) => ({ label: d.label, box: d.box })));
  }

  async function showImages(files) {
    const status = $("images-status");
    const results = $("image-results");
    results.replaceChildren();
    if (!files.length) return;
    setStatus(status, `Sending ${files.length} image(s)…`, "busy");
    try {
      const [classified, detected] = await Promise.all([
        fetch(apiUrl("predict", { top_k: $("top-k").value }),
              { method: "POST", body: imageForm(files) }).then(readJson),
        fetch(apiUrl("object_detection", { threshold: $("threshold").value }),
              { method: "POST", body: imageForm(files) }).then(readJson),
      ]);
      for (let index = 0; index < files.length; index++) {
        results.append(await imageCard(files[index], classified[index], detected[index]));
      }
      setStatus(status, `${files.length} image(s) done.`, "done");
    } catch (error) {
      setStatus(status, `The API refused the request: ${error.message}`, "error");
    }
  }

  async function imageCard(file, classified, detected) {
    const card = document.createElement("article");
    card.className = "card";
    card.dataset.testid = "image-result";
    card.dataset.filename = file.name;
    const title = document.createElement("h3");
    title.textContent = file.name;
    card.append(title);
    const failure = (classified && classified.error) || (detected && detected.error);
    if (failure) {
      card.dataset.status = "error";
      const message = document.createElement("p");
      message.className = "error-text";
      message.textContent = `${failure.code}: ${failure.message}`;
      card.append(message);
      return card;
    }
    card.dataset.status = "ok";
    const canvas = document.createElement("canvas");
    const detections = detected.predictions || [];
    card.dataset.detections = String(detections.length);
    card.append(canvas);
    try {
      drawDetections(canvas, await loadImage(file), detections, detected.width, detected.height);
    } catch (error) {
      canvas.replaceWith(Object.assign(document.createElement("p"), { textContent: error.message }));
    }
    const summary = document.createElement("p");
    summary.className = "detections";
    summary.textContent = detections.length
      ? `${detections.length} detection(s): ${detections.map((d) => d.label).join(", ")}`
      : "no detections above the threshold";
    card.append(labelList(classified.predictions || []), summary);
    return card;
  }

  function wireImages() {
    const drop = $("image-drop");
    const input = $("image-input");
    input.addEventListener("change", () => showImages([...input.files]));
    drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      showImages([...event.dataTransfer.files].filter((file) => file.type.startsWith("image/")));
    });
  }

  // ---- statistics ----------------------------------------------------------

  function parseNumbers(text) {
    const tokens = text.split(/[\s,;]+/).filter(Boolean);
    const numbers = tokens.map(Number);
    const bad = tokens.find((token, index) => !Number.isFinite(numbers[index]));
    if (bad !== undefined) throw new Error(`${JSON.stringify(bad)} is not a number`);
    if (!numbers.length) throw new Error("paste at least one number");
    return numbers;
  }

  // Sturges' rule: enough bins to show the shape without noise.
  function histogramBins(numbers, min, max) {
    const count = Math.max(1, Math.ceil(Math.log2(numbers.length) + 1));
    const width = (max - min) / count || 1;
    const bins = Array.from({ length: count }, (_, i) => ({ from: min + i * width, to: min + (i + 1) * width, count: 0 }));
    for (const value of numbers) {
      bins[Math.min(count - 1, Math.floor((value - min) / width))].count += 1;
    }
    return bins;
  }

  function drawHistogram(svg, numbers, min, max) {
    const ns = "http://www.w3.org/2000/svg";
    const width = 480, height = 220, bottom = 20;
    const bins = histogramBins(numbers, min, max);
    const highest = Math.max(...bins.map((bin) => bin.count));
    const barWidth = width / bins.length;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.replaceChildren();
    bins.forEach((bin, index) => {
      const barHeight = ((height - bottom - 10) * bin.count) / highest;
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", String(index * barWidth + 1));
      rect.setAttribute("y", String(height - bottom - barHeight));
      rect.setAttribute("width", String(Math.max(1, barWidth - 2)));
      rect.setAttribute("height", String(barHeight));
      rect.dataset.count = String(bin.count);
      rect.dataset.from = String(bin.from);
      rect.dataset.to = String(bin.to);
      const tip = document.createElementNS(ns, "title");
      tip.textContent = `${formatNumber(bin.from)} – ${formatNumber(bin.to)}: ${bin.count}`;
      rect.append(tip);
      svg.append(rect);
    });
    for (const [x, value, anchor] of [[0, min, "start"], [width, max, "end"]]) {
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", String(x));
      label.setAttribute("y", String(height - 5));
      label.setAttribute("text-anchor", anchor);
      label.textContent = formatNumber(value);
      svg.append(label);
    }
    svg.removeAttribute("hidden");
  }

  function showSummary(summary) {
    const table = $("stats-result");
    const values = { ...summary, min: summary.minmax[0], max: summary.minmax[1] };
    for (const row of table.querySelectorAll("tr[data-field]")) {
      const value = values[row.dataset.field];
      row.querySelector("td").textContent = formatNumber(value);
      row.dataset.value = value === null ? "" : String(value);
    }
    table.hidden = false;
  }

  function wireStatistics() {
    $("stats-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = $("stats-status");
      $("stats-result").hidden = true;
      $("histogram").setAttribute("hidden", "");
      let numbers;
      try {
        numbers = parseNumbers($("stats-numbers").value);
      } catch (error) {
        setStatus(status, error.message, "error");
        return;
      }
      setStatus(status, `Describing ${numbers.length} number(s)…`, "busy");
      try {
        const summary = await fetch(apiUrl("stats"), {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ numbers }),
        }).then(readJson);
        showSummary(summary);
        drawHistogram($("histogram"), numbers, summary.minmax[0], summary.minmax[1]);
        setStatus(status, `${summary.nobs} number(s) described.`, "done");
      } catch (error) {
        setStatus(status, `The API refused the numbers: ${error.message}`, "error");
      }
    });
  }

  // ---- upload through /blobs -----------------------------------------------

  // XMLHttpRequest, not fetch: only it reports upload progress. The presigned
  // form POST is preferred when offered: its preflight needs no signature, and
  // S3 itself enforces the size limit.
  function sendFile(blob, file, progress) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      let body = file;
      if (blob.post && blob.post.url) {
        request.open("POST", blob.post.url);
        body = new FormData();
        for (const [name, value] of Object.entries(blob.post.fields || {})) body.append(name, value);
        body.append("file", file);
      } else {
        request.open(blob.method || "PUT", blob.upload_url);
        for (const [name, value] of Object.entries(blob.headers || {})) {
          request.setRequestHeader(name, value);
        }
      }
      request.upload.onprogress = (event) => {
        if (event.lengthComputable) progress.value = (100 * event.loaded) / event.total;
      };
      request.onload = () => (request.status < 300 ? resolve()
        : reject(new Error(`the storage refused the upload (${request.status})`)));
      request.onerror = () => reject(new Error("the upload failed (network or CORS error)"));
      request.send(body);
    });
  }

  async function waitForLabels(id, status, deadline) {
    while (Date.now() < deadline) {
      const blob = await fetch(apiUrl(`blobs/${encodeURIComponent(id)}`)).then(readJson);
      if (blob.status !== "pending") return blob;
      setStatus(status, `Uploaded; waiting for labels (status: ${blob.status})…`, "pending");
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error("no labels after 60 seconds");
  }

  async function upload(file) {
    const status = $("upload-status");
    const progress = $("upload-progress");
    const labels = $("upload-labels");
    labels.replaceChildren();
    progress.value = 0;
    try {
      setStatus(status, "Asking for an upload URL…", "creating");
      const blob = await fetch(apiUrl("blobs"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ content_type: file.type || "application/octet-stream" }),
      }).then(readJson);
      status.dataset.blobId = blob.id;
      setStatus(status, "Uploading…", "uploading");
      await sendFile(blob, file, progress);
      progress.value = 100;
      const done = await waitForLabels(blob.id, status, Date.now() + 60000);
      if (done.status === "done") {
        labels.replaceChildren(...labelList(done.labels || []).children);
        setStatus(status, `Done: ${(done.labels || []).length} label(s).`, "done");
      } else {
        const reason = done.error && (done.error.message || done.error);
        setStatus(status, `Failed: ${reason}`, "failed");
      }
    } catch (error) {
      setStatus(status, error.message, "error");
    }
  }

  function wireUpload() {
    const input = $("upload-input");
    input.addEventListener("change", () => { if (input.files.length) upload(input.files[0]); });
  }

  wireImages();
  wireStatistics();
  wireUpload();
  document.body.dataset.ready = "true";
})();
