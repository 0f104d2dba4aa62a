// Amounts in Chinese capitals (大写), as evaluation/formulas.py reads them (words_to_fen): R-V5 says
// words beat figures, so the price sheet is checked for agreement before it is sealed.

const DIGITS = {
  零: 0, 〇: 0, 壹: 1, 一: 1, 贰: 2, 二: 2, 两: 2, 叁: 3, 三: 3, 肆: 4, 四: 4,
  伍: 5, 五: 5, 陆: 6, 六: 6, 柒: 7, 七: 7, 捌: 8, 八: 8, 玖: 9, 九: 9,
};
const SMALL = { 拾: 10, 十: 10, 佰: 100, 百: 100, 仟: 1000, 千: 1000 };

function chineseInteger(text) {
  let total = 0;
  let section = 0;
  let digit = 0;
  for (const ch of text) {
    if (ch in DIGITS) digit = DIGITS[ch];
    else if (ch in SMALL) {
      section += (digit || 1) * SMALL[ch];
      digit = 0;
    } else if (ch === "亿") {
      total = (total + section + digit) * 100000000;
      section = digit = 0;
    } else if (ch === "万" || ch === "萬") {
      total += (section + digit) * 10000;
      section = digit = 0;
    } else throw new Error(`not an amount in words: ${ch}`);
  }
  return total + section + digit;
}

export function wordsToFen(words) {
  let text = words.replace(/\s+/g, "");
  for (const prefix of ["人民币", "¥"]) if (text.startsWith(prefix)) text = text.slice(prefix.length);
  text = text.replace(/[整正]+$/, "");
  if (!text) throw new Error("empty amount");
  text = text.replaceAll("圆", "元");
  const at = text.indexOf("元");
  let yuanText = "";
  let rest = text;
  if (at >= 0) {
    yuanText = text.slice(0, at);
    rest = text.slice(at + 1);
  }
  let fen = yuanText ? chineseInteger(yuanText) * 100 : 0;
  for (const [unit, worth] of [["角", 10], ["分", 1]]) {
    const i = rest.indexOf(unit);
    if (i >= 0) {
      const digits = rest.slice(0, i).replaceAll("零", "");
      if (digits.length !== 1 || !(digits in DIGITS)) throw new Error(`unreadable ${unit}`);
      fen += DIGITS[digits] * worth;
      rest = rest.slice(i + 1);
    }
  }
  if (rest.replaceAll("零", "")) throw new Error(`unreadable tail ${rest}`);
  return fen;
}

const CAPITALS = "零壹贰叁肆伍陆柒捌玖";
const UNITS = ["", "拾", "佰", "仟"];
const GROUPS = ["", "万", "亿", "万亿"];

// The usual way to write `fen` in capitals, offered to the clerk as a suggestion (人民币…元…角…分 / 整).
export function fenToWords(fen) {
  const yuan = Math.floor(fen / 100);
  const jiao = Math.floor(fen / 10) % 10;
  const cents = fen % 10;
  let out = "";
  if (yuan === 0) out = "零";
  else {
    const groups = [];
    for (let n = yuan; n > 0; n = Math.floor(n / 10000)) groups.push(n % 10000);
    let zero = false;
    for (let g = groups.length - 1; g >= 0; g--) {
      const value = groups[g];
      if (value === 0) {
        zero = true;
        continue;
      }
      if (zero || (g < groups.length - 1 && value < 1000)) out += "零";
      zero = false;
      let inner = "";
      let innerZero = false;
      for (let i = 3; i >= 0; i--) {
        const d = Math.floor(value / 10 ** i) % 10;
        if (d === 0) {
          if (inner) innerZero = true;
          continue;
        }
        if (innerZero) inner += "零";
        innerZero = false;
        inner += CAPITALS[d] + UNITS[i];
      }
      out += inner + GROUPS[g];
    }
  }
  out = `人民币${out}元`;
  if (!jiao && !cents) return `${out}整`;
  if (jiao) out += `${CAPITALS[jiao]}角`;
  else out += "零";
  if (cents) out += `${CAPITALS[cents]}分`;
  return out;
}
