// Starts GraphiQL against this server. Put the tokens in the headers editor;
// they are kept in memory only (shouldPersistHeaders is off), and operations
// are sent by POST, so tokens never end up in a URL or in local storage.
// Served as a file rather than inline, so that the page's policy can be
// script-src 'self' with no hash to keep in step.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var fetcher = GraphiQL.createFetcher({ url: root.getAttribute("data-endpoint") || window.location.pathname });
  var headers = JSON.stringify({ "x-access-token": "", "x-refresh-token": "" }, null, 2);
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultHeaders: headers,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
    })
  );
})();
