"""Streamlit's own words in the UI's language.

Streamlit has no locale setting: its file uploader says "Drag and drop files here", "Upload" and
"200MB per file", its tables "Select all", its navigation "Page not found", in English whatever the
page's language. A small component (``st.components.v2``, whose script runs in the page and needs
nothing from the network) watches the page and, in Chinese, replaces those texts (and the same words
in placeholders, tooltips and labels for screen readers) with :data:`ZH`; back in English it puts the
originals back. Only texts that are exactly one of Streamlit's strings change, never content.
"""

from __future__ import annotations

import streamlit as st

# Streamlit's strings (1.67, static/js) → Chinese; exact texts of one text node or attribute
ZH = {
    "Drag and drop files here": "将文件拖放到此处", "Drag and drop a file here": "将文件拖放到此处",
    "Drag and drop directories here": "将文件夹拖放到此处", "Upload": "选择文件", "Upload directories": "选择文件夹",
    "Browse files": "选择文件", "Select all": "全选", "No results": "没有结果", "Clear all": "全部清除",
    "Page not found": "找不到页面", "Running...": "运行中…", "Stop": "停止", "Close": "关闭",
    "Search": "搜索", "Download as CSV": "下载为 CSV", "Fullscreen": "全屏", "Close fullscreen": "退出全屏",
    "Choose an option": "请选择", "Choose options": "请选择", "No options to select": "没有可选项",
    "Selectbox options": "选项", "Show/hide columns": "显示或隐藏列", "Remove file": "移除文件",
    "Copy to clipboard": "复制", "Rerun": "重新运行", "Settings": "设置", "Print": "打印",
    "Connecting": "正在连接", "Connection error": "连接出错", "Skip to main content": "跳到主要内容",
    "View less": "收起", "view more": "展开", "view less": "收起",  # the sidebar's page list, a long toast
}
# texts with a variable part: [regular expression, replacement (JavaScript's $1)]
ZH_PATTERNS = [
    [r"^(\S+) per file$", "单个文件上限 $1"],
    [r"^Limit (\S+) per file(.*)$", "单个文件上限 $1$2"],
    [r"^Press Enter to (submit form|apply)$", "按回车确认"],
    [r"^Press (⌘|Ctrl)\+Enter to (submit form|apply)$", "按 $1+回车确认"],
    [r"^Select (\d+) matches$", "选择 $1 个匹配项"],
    [r"^(\d+) more$", "更多 $1 项"],  # the top navigation's overflow menu while the page is being laid out
    [r"^View (\d+) more$", "再显示 $1 项"],
    [r"^Add: (.*)$", "添加：$1"],
    [r"^You have requested page /(.*), but no corresponding file was found in the app's pages/ directory\. "
     r"Running the app's main page\.$", "没有 /$1 这个页面，已打开首页。"],
    [r"^The page that you have requested does not seem to exist\. Running the app's main page\.$",
     "没有这个页面，已打开首页。"],
]

_JS = """
export default function ({ data }) {
  const state = window.__zkLocale || (window.__zkLocale = { lang: "en", originals: new Map(), observer: null });
  state.lang = data.lang;
  const exact = data.exact, patterns = data.patterns.map(([p, r]) => [new RegExp(p), r]);
  const ATTRS = ["placeholder", "aria-label", "title"];
  const translate = (text) => {
    const key = text.trim();
    if (!key) return null;
    if (Object.prototype.hasOwnProperty.call(exact, key)) return text.replace(key, exact[key]);
    for (const [re, to] of patterns) if (re.test(key)) return text.replace(key, key.replace(re, to));
    return null;
  };
  const keep = (node, attr, original) => {
    let saved = state.originals.get(node);
    if (!saved) state.originals.set(node, saved = {});
    if (!(attr in saved)) saved[attr] = original;
  };
  const fix = (node) => {
    if (state.lang !== "zh") return;
    if (node.nodeType === Node.TEXT_NODE) {
      const to = translate(node.nodeValue);
      if (to !== null && to !== node.nodeValue) { keep(node, "#text", node.nodeValue); node.nodeValue = to; }
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE || node.closest("[data-zk-content]")) return;
    for (const attr of ATTRS) {
      const value = node.getAttribute(attr);
      const to = value ? translate(value) : null;
      if (to !== null && to !== value) { keep(node, attr, value); node.setAttribute(attr, to); }
    }
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.nodeType === Node.TEXT_NODE) fix(n);
      else for (const attr of ATTRS) {
        const value = n.getAttribute(attr);
        const to = value ? translate(value) : null;
        if (to !== null && to !== value) { keep(n, attr, value); n.setAttribute(attr, to); }
      }
    }
  };
  if (state.lang === "zh") {
    if (!state.observer) {
      state.observer = new MutationObserver((records) => {
        for (const r of records) {
          if (r.type === "characterData") fix(r.target);
          else if (r.type === "attributes") fix(r.target);
          else r.addedNodes.forEach(fix);
        }
      });
      state.observer.observe(document.body, { subtree: true, childList: true, characterData: true,
                                              attributes: true, attributeFilter: ATTRS });
    }
    fix(document.body);
  } else {
    if (state.observer) { state.observer.disconnect(); state.observer = null; }
    for (const [node, saved] of state.originals) {
      for (const [attr, value] of Object.entries(saved)) {
        if (attr === "#text") node.nodeValue = value; else node.setAttribute(attr, value);
      }
    }
    state.originals.clear();
  }
}
"""

_locale = st.components.v2.component("zhiku_locale", js=_JS)

CSS = ".st-key-zk-locale { display: none; }"  # in the page's stylesheet (zhiku.ui.shell): it takes no room


def install(lang: str) -> None:
    """Translate Streamlit's own strings on this page into ``lang`` (``zh``); ``en`` leaves them."""
    _locale(key="zk-locale", data={"lang": lang, "exact": ZH if lang == "zh" else {},
                                   "patterns": ZH_PATTERNS if lang == "zh" else []})
