// A dataset's transparency page: contributors per net-share bucket as a bar chart (Chart.js).
(function () {
  // Without JavaScript (or Chart.js) the figure stays hidden and the table tells the same.
  var figure = document.getElementById('payout-figure');
  if (!window.Chart || !figure) { return; }
  var data = JSON.parse(document.getElementById('payout-data').textContent);
  figure.hidden = false;
  new Chart(document.getElementById('payout-chart'), {
    type: 'bar',
    data: {labels: data.labels, datasets: [{label: 'Contributors', data: data.contributors}]},
    options: {aspectRatio: 3, plugins: {legend: {display: false}},
              scales: {y: {beginAtZero: true, ticks: {precision: 0}, title: {display: true, text: 'Contributors'}},
                       x: {title: {display: true, text: 'Net share'}}}}
  });
})();
