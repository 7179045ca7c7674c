/**
 * The "did you mean" of every validation message (parameter keys, action names, references): the
 * option with the same letters in another case first (names are case-sensitive, so `campaignID`
 * is a different field), else the nearest by edit distance within 2. Options whose length differs
 * by more than 2 are skipped without computing a distance, so the cost stays small whatever is sent.
 */
export function closestWord(word: string, options: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const sameLetters = options.find((o) => o.toLowerCase() === lower);
  if (sameLetters) return sameLetters;
  let best: { option: string; distance: number } | undefined;
  for (const option of options) {
    if (Math.abs(option.length - word.length) > 2) continue;
    const distance = editDistance(option, word);
    if (distance <= 2 && (!best || distance < best.distance)) best = { option, distance };
  }
  return best?.option;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
