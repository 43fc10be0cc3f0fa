// Bounded decompression with the browser's DecompressionStream: "deflate" is the zlib format
// of RFC 1950 (card text, docs/uc1.md §1 step 4), "gzip" the container of status lists (§6).

async function run(data, format, maxSize) {
  const stream = new DecompressionStream(format);
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  // errors surface on the reading side; the writing side only has to be awaited quietly
  const writing = writer.write(data).then(() => writer.close()).catch(() => {});
  const chunks = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxSize) {  // stop inflating at the bound: a bomb never gets unpacked
        reader.cancel().catch(() => {});
        return { error: "too-large" };
      }
      chunks.push(value);
    }
  } catch {
    return { error: "broken" };
  }
  await writing;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return { bytes };
}

/**
 * Inflate exactly one complete stream of `format` ("deflate" or "gzip"), reading at most
 * `maxSize` bytes of output. Resolves to {bytes}, or {error: "broken"} (corrupt, truncated,
 * wrong checksum, trailing data) or {error: "too-large"} (more than `maxSize` bytes).
 */
export async function inflate(data, format, maxSize) {
  const result = await run(data, format, maxSize);
  if (!result.bytes) return result;
  // Chromium refuses trailing data itself; some engines ignore it. Either way the stream
  // must end exactly at the last byte: without it, it must no longer inflate.
  if (data.length && (await run(data.subarray(0, -1), format, maxSize)).bytes) {
    return { error: "broken" };
  }
  if (format === "gzip") {  // one member only: its ISIZE is the whole output's length
    const n = data.length;
    const size = (data[n - 4] | (data[n - 3] << 8) | (data[n - 2] << 16) | (data[n - 1] << 24)) >>> 0;
    if (size !== result.bytes.length % 2 ** 32) return { error: "broken" };
  }
  return result;
}
