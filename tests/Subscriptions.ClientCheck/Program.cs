using System.Net.Http.Headers;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;
using Subscriptions.ClientCheck.Generated;
using Subscriptions.ClientCheck.Generated.Models;

// Arguments: the service's base URL, the admin key, an address to sign up. Prints what each call
// gave; exits 0 when the signup shows up in the export of the list it created.
if (args is not [var baseUrl, var adminKey, var email])
{
    Console.Error.WriteLine("usage: Subscriptions.ClientCheck <base url> <admin key> <email>");
    return 2;
}

var reader = Client(authorization: null);
var editor = Client(new AuthenticationHeaderValue("Bearer", adminKey));

// Only the fields the document requires, as a client that trusts it would send.
var list = await editor.Api.Admin.Lists.PostAsync(new ListInput
{
    Slug = "generated",
    Name = "Generated client",
    ConsentText = "I agree to receive this newsletter.",
    ConsentTextVersion = "v1",
});
Console.WriteLine($"created list {list?.Slug}");

var accepted = await reader.Api.Subscriptions.PostAsync(new SignupRequest { Email = email, Consent = true, Lists = ["generated"] });
Console.WriteLine($"signup {accepted?.Status}");

await using var export = await editor.Api.Admin.Export.GetAsync(request =>
{
    request.QueryParameters.Format = "ndjson";
    request.QueryParameters.List = "generated";
});
using var rows = new StreamReader(export!);
var exported = (await rows.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
Console.WriteLine($"exported {exported.Length} row(s)");
return list?.Slug == "generated" && accepted?.Status == "accepted" && exported is [var row] && row.Contains(email, StringComparison.Ordinal) ? 0 : 1;

SubscriptionsClient Client(AuthenticationHeaderValue? authorization)
{
    var http = KiotaClientFactory.Create();
    http.DefaultRequestHeaders.Authorization = authorization;
    return new SubscriptionsClient(new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: http) { BaseUrl = baseUrl });
}
