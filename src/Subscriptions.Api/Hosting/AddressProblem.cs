using Microsoft.AspNetCore.Http.HttpResults;

namespace Subscriptions.Api.Hosting;

/// <summary>The answer of an admin route whose <c>{email}</c> cannot be an address the service stored.</summary>
public static class AddressProblem
{
    public static ValidationProblem NotAnAddress() =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["email"] = ["Not an address this service could have stored."] });
}
