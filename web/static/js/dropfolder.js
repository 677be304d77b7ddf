// Files from a drop or a folder pick, folders walked (FileSystemEntry API: every current
// browser has webkitGetAsEntry), with what is never worth sending left out.

const SKIPPED = new Set(["DICOMDIR", ".DS_Store", "Thumbs.db", "desktop.ini"]);

/** Whether a file from a folder is worth sending (no hidden files, no CD directory files). */
export function worthSending(file) {
  const name = file.name;
  return !SKIPPED.has(name) && !name.startsWith(".") && file.size > 0;
}

function readEntries(reader) {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

function fileOf(entry) {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function walk(entry, out) {
  if (entry.isFile) {
    const file = await fileOf(entry);
    if (worthSending(file)) out.push(file);
    return;
  }
  if (!entry.isDirectory) return;
  const reader = entry.createReader();
  // readEntries answers in batches (100 in Chromium) until it answers an empty one.
  for (;;) {
    const batch = await readEntries(reader);
    if (!batch.length) return;
    for (const child of batch) await walk(child, out);
  }
}

/** Every file of a drop, the contents of dropped folders included. */
export async function droppedFiles(dataTransfer) {
  const items = Array.from(dataTransfer?.items || []);
  const entries = items
    .filter((item) => item.kind === "file")
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (!entries.length || entries.some((entry) => !entry)) {
    return Array.from(dataTransfer?.files || []);
  }
  const out = [];
  for (const entry of entries) await walk(entry, out);
  return out;
}
