// The contributor's statement: earned and reversed per month as a bar chart (Chart.js).
(function () {
  var data = JSON.parse(document.getElementById('statement-months').textContent);
  var canvas = document.getElementById('statement-chart');
  if (!window.Chart || !canvas) { return; }  // the table stays open without the chart
  canvas.parentElement.hidden = false;
  document.getElementById('months-table').open = false;
  var major = function (minor) { return minor / 100; };
  var label = function (value) {
    return value.toLocaleString(undefined, {minimumFractionDigits: 2, maximumFractionDigits: 2}) + ' ' + data.currency.toUpperCase();
  };
  new Chart(canvas, {
    type: 'bar',
    data: {
      labels: data.months,
      datasets: [
        {label: 'Earned', data: data.earned.map(major), backgroundColor: '#2e7d32'},
        {label: 'Reversed (refunds, disputes)', data: data.reversed.map(major), backgroundColor: '#c62828'}
      ]
    },
    options: {
      responsive: true, maintainAspectRatio: false,
      scales: {x: {stacked: true}, y: {stacked: true, ticks: {callback: label}}},
      plugins: {tooltip: {callbacks: {label: function (c) { return c.dataset.label + ': ' + label(c.parsed.y); }}}}
    }
  });
})();
