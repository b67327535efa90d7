// The pay page: Stripe.js's card field; the token it makes is posted with the form.
(function () {
  const form = document.getElementById("payment-form");
  const stripe = Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    document.getElementById("pay-button").setAttribute("aria-busy", "true");
    // People type "4242 4242 4242 4242". Stripe's own Card Element takes that as it is; the local
    // stand-in (localstripe) hands the number on as typed, so it gets the digits alone here.
    if (card.value && card.value.card && typeof card.value.card.number === "string") {
      card.value.card.number = card.value.card.number.replace(/[\s-]/g, "");
    }
    const result = await stripe.createToken(card);
    if (result.error) {
      document.getElementById("card-errors").textContent = result.error.message;
      document.getElementById("pay-button").removeAttribute("aria-busy");
      return;
    }
    document.getElementById("stripe-token").value = result.token.id;
    form.submit();
  });
})();
