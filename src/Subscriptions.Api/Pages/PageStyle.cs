using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Html;

namespace Subscriptions.Api.Pages;

/// <summary>
/// The one inline style of every hosted page, and its SHA-256 for the Content-Security-Policy
/// (computed once here: the policy allows this exact text and nothing else).
/// </summary>
public static class PageStyle
{
    public const string Css = """
        body{font:1rem/1.5 system-ui,sans-serif;margin:0;padding:2rem 1rem;color:#1a1a1a;background:#fafafa}
        main{max-width:34rem;margin:0 auto;background:#fff;padding:1.5rem 2rem;border-radius:.5rem;box-shadow:0 1px 3px #0002}
        h1{font-size:1.5rem;margin-top:0}ul.errors{color:#8a1f11;padding-left:1.2rem}
        input[type=email]{font:inherit;width:100%;max-width:24rem;padding:.5rem;border:1px solid #666;border-radius:.3rem}
        button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:.3rem;background:#0b57d0;color:#fff;cursor:pointer}
        button:focus-visible,input:focus-visible{outline:3px solid #f9ab00;outline-offset:2px}
        .hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
        .subscriptions-error,.subscriptions-field-error{color:#8a1f11}.subscriptions-success{color:#0d652d}
        .subscriptions-suggestion button{padding:0;background:none;color:#0b57d0;text-decoration:underline;font-weight:600}
        """;

    /// <summary>The style as markup: our own constant, the one thing a page writes unencoded.</summary>
    public static readonly HtmlString Html = new(Css);

    /// <summary>The CSP source that allows this style: <c>'sha256-…'</c>.</summary>
    public static readonly string CspSource = $"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(Css)))}'";
}
