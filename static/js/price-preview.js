// The offer form's live price: what a buyer pays today on the latest version's counts, by the
// same integer rule as the server (catalog.offers.price_amount): flat, or rounded up per 1,000
// records / per 1M tokens, never below the processor's minimum. Exact in BigInt cents.
(function () {
  const preview = document.getElementById("price-preview");
  if (!preview) return;
  const form = preview.closest("form");
  const amountInput = form.querySelector("#price_amount");
  const modelInput = form.querySelector("#price_model");
  const records = BigInt(preview.dataset.records), tokens = BigInt(preview.dataset.tokens);
  const minimum = BigInt(preview.dataset.minimum), currency = preview.dataset.currency;
  const typed = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$/;

  function cents(text) {
    const match = typed.exec(text.trim().replace(/^[$€£]/, ""));
    if (!match) return null;
    return BigInt(match[1].replaceAll(",", "")) * 100n + BigInt((match[2] || "0").padEnd(2, "0"));
  }
  const ceilDiv = (a, b) => (a + b - 1n) / b;
  function show(amount) {
    const whole = (amount / 100n).toLocaleString("en-US");
    return `${whole}.${String(amount % 100n).padStart(2, "0")} ${currency}`;
  }
  function update() {
    const amount = cents(amountInput.value);
    if (amount === null) {
      preview.innerHTML = "<small>Type a price like 2,500.00 to see what a buyer pays today.</small>";
      return;
    }
    let price = amount;
    if (modelInput.value === "per_1k_records") price = ceilDiv(amount * records, 1000n);
    if (modelInput.value === "per_1m_tokens") price = ceilDiv(amount * tokens, 1000000n);
    if (price < minimum) price = minimum;
    preview.textContent = `A buyer pays ${show(price)} today for version ${preview.dataset.version}.`;
  }
  amountInput.addEventListener("input", update);
  modelInput.addEventListener("change", update);
  update();
})();
