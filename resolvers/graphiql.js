// Starts GraphiQL against this server. Put the tokens in the headers editor;
// they are kept in memory only (shouldPersistHeaders is off), and operations
// are sent by POST, so tokens never end up in a URL or in local storage.
(function () {
  "use strict";
  var fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
  var headers = JSON.stringify({ "x-access-token": "", "x-refresh-token": "" }, null, 2);
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultHeaders: headers,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
    })
  );
})();
