// The clinic scanner's script: read the card's QR code from the device camera. The browser
// decodes it itself where it offers BarcodeDetector; otherwise frames go to the service
// (POST /clinic/frame), which decodes them as it decodes uploaded photos. The text found is
// put in the form, which is sent as if it had been pasted. Without this script (or a camera)
// the photo upload and the text field still work.
"use strict";

function setUpCamera() {
  const box = document.getElementById("camera-box");
  const video = document.getElementById("camera");
  const start = document.getElementById("camera-start");
  const status = document.getElementById("camera-status");
  const form = document.getElementById("scan-form");
  const text = document.getElementById("uc1");
  if (!box || !video || !start || !form || !text) return;
  let done = false;
  let busy = false;

  const found = (value) => {
    if (done || !value) return;
    done = true;
    status.textContent = status.dataset.found;
    text.value = value;
    const photo = document.getElementById("photo");
    if (photo) photo.value = "";
    const stream = video.srcObject;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    form.submit();
  };

  const viaService = () => {
    const canvas = document.createElement("canvas");
    return () => {
      if (busy || done || !video.videoWidth) return;
      busy = true;
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      canvas.toBlob((blob) => {
        const body = new FormData();
        body.append("photo", blob, "frame.jpg");
        fetch(box.dataset.frameUrl, {
          method: "POST", body, credentials: "same-origin",
          headers: {"X-CSRF-Token": box.dataset.csrf, "Accept": "application/json"},
        }).then((r) => r.ok ? r.json() : null)
          .then((data) => { if (data && data.text) found(data.text); })
          .finally(() => { busy = false; });
      }, "image/jpeg", 0.92);
    };
  };

  const inBrowser = (detector) => () => {
    if (busy || done || !video.videoWidth) return;
    busy = true;
    detector.detect(video)
      .then((codes) => { if (codes.length) found(codes[0].rawValue); })
      .catch(() => {})
      .finally(() => { busy = false; });
  };

  start.addEventListener("click", async () => {
    start.disabled = true;
    try {
      const stream = await navigator.mediaDevices.getUserMedia(
        {video: {facingMode: "environment", width: {ideal: 1280}}, audio: false});
      video.srcObject = stream;
      await video.play();
    } catch (e) {
      status.textContent = status.dataset.none;
      start.disabled = false;
      return;
    }
    status.textContent = status.dataset.looking;
    let step = viaService();
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) {
          step = inBrowser(new window.BarcodeDetector({formats: ["qr_code"]}));
          box.dataset.decoder = "browser";
        }
      } catch (e) { /* the service decodes */ }
    }
    box.dataset.decoder = box.dataset.decoder || "service";
    setInterval(step, 700);
  });
}

document.addEventListener("DOMContentLoaded", setUpCamera);
