// Run by tests/book/test_book_site.py in every page of the built book, once it has loaded (selenium's
// execute_async_script: the last argument is the callback). Waits for MathJax to finish, then
// reports what a reader would see wrong: {problems: [...], math: <typeset formulas>, images: <n>}.
const done = arguments[arguments.length - 1];

(async () => {
  const problems = [];
  const mathjax = () => (window.MathJax && window.MathJax.startup) || null;

  if (document.querySelector('script[src*="mathjax" i]')) {
    // Deferred scripts have run by the load event: no MathJax.startup means it did not load.
    if (!(mathjax() && mathjax().promise)) {
      problems.push("MathJax did not load");
    } else {
      try {
        await mathjax().promise;
      } catch (e) {
        problems.push("MathJax failed: " + e);
      }
    }
  }

  // Sphinx wraps every formula in span.math / div.math; typeset, it holds an mjx-container.
  for (const el of document.querySelectorAll("span.math, div.math")) {
    if (!el.querySelector("mjx-container")) {
      problems.push("math not typeset: " + el.textContent.trim().slice(0, 80));
    }
  }
  for (const el of document.querySelectorAll("mjx-merror")) {
    const message = el.getAttribute("data-mjx-error") || el.textContent;
    problems.push("MathJax error: " + message.slice(0, 120));
  }
  // TeX errors and undefined macros (MathJax's noundefined package shows those as red text,
  // not as an error node), found in the typeset formulas' MathML trees.
  const typeset = mathjax() && mathjax().document ? mathjax().document.math : [];
  for (const item of typeset) {
    let bad = null;
    item.root.walkTree((node) => {
      if (node.isKind("merror")) bad = bad || "TeX error";
      else if (node.isKind("mtext") && node.attributes.get("mathcolor") === "red") {
        bad = bad || "undefined macro";
      }
    });
    if (bad) problems.push(`MathJax ${bad} in: ${String(item.math).trim().slice(0, 80)}`);
  }

  // TeX delimiters left in the text, outside code (which may quote them) and typeset math.
  const tex = /\\\[|\\\]|\\\(|\\\)|\$\$|\\begin\{/;
  const skip = "pre, code, kbd, samp, script, style, noscript, textarea, mjx-container, .highlight";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) =>
      n.parentElement.closest(skip) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const m = tex.exec(n.data);
    if (m) {
      const around = n.data.slice(Math.max(0, m.index - 30), m.index + 50).trim();
      problems.push("unrendered TeX in the text: ..." + around + "...");
    }
  }

  const broken = await Promise.all(
    [...document.images].map(async (img) => {
      img.loading = "eager"; // images in collapsed cells load too
      try {
        await img.decode();
      } catch (e) {
        return img.getAttribute("src");
      }
      const svg = /\.svg([?#]|$)/i.test(img.currentSrc); // an SVG may have no intrinsic size
      return img.naturalWidth === 0 && !svg ? img.getAttribute("src") : null;
    }),
  );
  for (const src of broken) if (src !== null) problems.push("broken image: " + src);

  // Code fits the column: the cells are formatted to 88 characters, and at the window's width
  // (1280 pixels, the theme's default layout) no code cell may need a horizontal scroll.
  for (const pre of document.querySelectorAll("div.cell_input pre")) {
    if (pre.scrollWidth > pre.clientWidth + 1) {
      const longest = pre.textContent.split("\n").sort((a, b) => b.length - a.length)[0];
      problems.push(`code wider than its column: ${longest.trim().slice(0, 60)}...`);
    }
  }

  done({
    problems,
    math: document.querySelectorAll("mjx-container").length,
    images: document.images.length,
  });
})().catch((e) => done({ problems: ["page check failed: " + e], math: 0, images: 0 }));
